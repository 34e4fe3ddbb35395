#!/usr/bin/env node
// kafkajs across a partition leader's kill -9 (issue 16: "kafkajs clients
// ride through leader failover without application errors"). Run by
// tests/integration/cluster/test_client_failover.py, which kills the leader
// while this runs. A producer sends `js-<seq>` round-robin over the topic's
// partitions with acks=all, one send at a time; a consumer group reads the
// topic. Every event is a JSON line on stdout for the Jepsen-style checker:
//   {"e":"send","seq":n,"value":v,"partition":p}      before a send
//   {"e":"ack","seq":n,"partition":p,"offset":o}      its acknowledgement
//   {"e":"fail","seq":n,"error":"..."}                a send the application saw fail
//   {"e":"poll","partition":p,"offset":o,"value":v}   a record the group polled
//   {"e":"reset","partition":p}                       the group (re)assigned it
//   {"e":"crash","error":"...","restart":b}           the consumer gave up (and restarts itself if b)
//   {"e":"done"}                                       after SLUICE_FAILOVER_STOP appears
// Environment: SLUICE_BOOTSTRAPS (comma separated), SLUICE_TOPIC,
// SLUICE_PARTITIONS, SLUICE_FAILOVER_STOP (a path: once it exists the
// producer stops; the consumer stops once it has polled SLUICE_FAILOVER_STOP's
// content, the number of records acknowledged, or after 60 s more);
// SLUICE_KAFKAJS_LOG (optional, a path): kafkajs's debug log as JSON lines.
'use strict'

const fs = require('node:fs')
const { Kafka, logLevel } = require('kafkajs')

const bootstraps = (process.env.SLUICE_BOOTSTRAPS || '').split(',').filter(Boolean)
const topic = process.env.SLUICE_TOPIC
const partitions = Number(process.env.SLUICE_PARTITIONS || 1)
const stopFile = process.env.SLUICE_FAILOVER_STOP

function emit (event) { process.stdout.write(JSON.stringify(event) + '\n') }
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

// Retries long enough to outlast a dead leader's session timeout and the
// election after it (kafkajs's defaults give up after ~10 s).
// SLUICE_KAFKAJS_LOG (a path): kafkajs's debug log, one JSON line per entry,
// for the test to attach to a failure (stdout carries only the events).
const logPath = process.env.SLUICE_KAFKAJS_LOG
const logCreator = () => ({ namespace, level, label, log }) => {
  fs.appendFileSync(logPath, JSON.stringify({ t: new Date().toISOString(), label, namespace, ...log }) + '\n')
}
const kafka = new Kafka({
  clientId: 'sluice-failover-kafkajs',
  brokers: bootstraps,
  logLevel: logPath ? logLevel.DEBUG : logLevel.NOTHING,
  ...(logPath ? { logCreator } : {}),
  retry: { retries: 15, initialRetryTime: 100, maxRetryTime: 2000 },
  connectionTimeout: 3000,
  requestTimeout: 10000
})

async function produce () {
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  let seq = 0
  let acked = 0
  while (!fs.existsSync(stopFile)) {
    const partition = seq % partitions
    const value = `js-${seq}`
    emit({ e: 'send', seq, value, partition })
    try {
      const [meta] = await producer.send({ topic, acks: -1, timeout: 10000, messages: [{ partition, value }] })
      emit({ e: 'ack', seq, partition: meta.partition, offset: Number(meta.baseOffset) })
      acked++
    } catch (err) {
      emit({ e: 'fail', seq, error: `${err.name}: ${err.message}` })
    }
    seq++
    await sleep(5)
  }
  await producer.disconnect()
  return acked
}

async function consume (acked) {
  // kafkajs's consumer takes its own `retry` (default { retries: 5 }, ~6 s),
  // not the client's. Its heartbeats and commits go to the coordinator broker
  // it found at the last join (it looks the coordinator up again only when
  // (re)joining, or after NOT_COORDINATOR), so when that broker dies it
  // retries connecting to it until the retries run out, then reports a crash
  // (KafkaJSNumberOfRetriesExceeded: ECONNREFUSED) and restarts itself
  // (restartOnFailure). A real Kafka keeps a dead broker in its metadata and
  // as its partitions' leader for broker.session.timeout.ms (9 s) as well. So
  // the consumer retries as long as the client: long enough for the killed
  // broker to be back and answer NOT_COORDINATOR (then it finds the new
  // coordinator and rejoins as the same member).
  const consumer = kafka.consumer({
    groupId: `${topic}-group`,
    sessionTimeout: 10000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 500,
    retry: { retries: 15, initialRetryTime: 100, maxRetryTime: 2000 }
  })
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    for (const p of payload.memberAssignment[topic] || []) emit({ e: 'reset', partition: p })
  })
  consumer.on(consumer.events.CRASH, ({ payload }) => emit({ e: 'crash', error: String(payload.error), restart: payload.restart }))
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const values = new Set()
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const value = message.value.toString()
      values.add(value)
      emit({ e: 'poll', partition, offset: Number(message.offset), value })
    }
  })
  return { consumer, values }
}

async function main () {
  const group = await consume()
  const acked = await produce()
  const deadline = Date.now() + 60000
  let wanted = acked
  while (Date.now() < deadline) {
    const text = fs.readFileSync(stopFile, 'utf8').trim()
    if (text) wanted = Number(text)
    if (group.values.size >= wanted) break
    await sleep(200)
  }
  await group.consumer.disconnect()
  emit({ e: 'done' })
  // kafkajs 2.2.4 can leave a socket open after disconnect() when the
  // coordinator's broker died and came back: its pool drops a broker missing
  // from Metadata (a fenced broker is, with Kafka too), but the consumer
  // group still holds that Broker object for heartbeats and commits, which
  // reconnects it when the broker returns (to be told NOT_COORDINATOR); the
  // pool's disconnect() no longer reaches it. Exit rather than wait for the
  // broker to close the idle connection (connections.max.idle.ms).
  process.exit(0)
}

main().catch(err => {
  emit({ e: 'crash', error: `${err.name}: ${err.message}` })
  process.exit(1)
})
