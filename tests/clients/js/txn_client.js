#!/usr/bin/env node
// kafkajs transactions (issue 17), run by tests/integration/txn/test_txn_clients.py.
//
//   node txn_client.js produce   a transactional producer: SLUICE_TRANSACTIONS transactions
//                                (producer.transaction()) of SLUICE_PER_TXN records
//                                `js-<t>-<i>` over SLUICE_PARTITIONS partitions of
//                                SLUICE_TOPIC; each sends offset t+1 of partition 0 of
//                                SLUICE_INPUT_TOPIC for group SLUICE_GROUP (sendOffsets);
//                                every SLUICE_ABORT_EVERY-th is aborted, the others committed
//   node txn_client.js read      a consumer (readUncommitted from SLUICE_READ_UNCOMMITTED,
//                                "true" or "false") reading SLUICE_TOPIC from the beginning
//                                until it has SLUICE_EXPECT records, then 2 s more for extras
//                                (at most 30 s in all)
//
// Events, one JSON line each on stdout:
//   {"e":"commit","txn":t,"values":[...]}   a committed transaction
//   {"e":"abort","txn":t,"values":[...]}    an aborted one (its records were sent first)
//   {"e":"read","partition":p,"offset":o,"value":v}
//   {"e":"error","error":"..."}             what the application saw (then exit 1)
//   {"e":"done"}
'use strict'

const { Kafka, logLevel } = require('kafkajs')

const env = process.env
const topic = env.SLUICE_TOPIC
const partitions = Number(env.SLUICE_PARTITIONS || 1)

function emit (event) { process.stdout.write(JSON.stringify(event) + '\n') }
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

const kafka = new Kafka({
  clientId: 'sluice-txn-kafkajs',
  brokers: [env.SLUICE_BOOTSTRAP],
  logLevel: logLevel.NOTHING,
  retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 2000 }
})

async function produce () {
  const producer = kafka.producer({
    transactionalId: env.SLUICE_TXN_ID,
    idempotent: true,
    maxInFlightRequests: 1,
    transactionTimeout: 30000
  })
  await producer.connect()
  const count = Number(env.SLUICE_TRANSACTIONS || 10)
  const perTxn = Number(env.SLUICE_PER_TXN || 10)
  const abortEvery = Number(env.SLUICE_ABORT_EVERY || 0)
  for (let t = 0; t < count; t++) {
    const values = []
    const txn = await producer.transaction()
    const messages = []
    for (let i = 0; i < perTxn; i++) {
      const value = `js-${t}-${i}`
      values.push(value)
      messages.push({ partition: i % partitions, value })
    }
    await txn.send({ topic, acks: -1, messages })
    await txn.sendOffsets({
      consumerGroupId: env.SLUICE_GROUP,
      topics: [{ topic: env.SLUICE_INPUT_TOPIC, partitions: [{ partition: 0, offset: String(t + 1) }] }]
    })
    if (abortEvery && (t + 1) % abortEvery === 0) {
      await txn.abort()
      emit({ e: 'abort', txn: t, values })
    } else {
      await txn.commit()
      emit({ e: 'commit', txn: t, values })
    }
  }
  await producer.disconnect()
}

async function read () {
  const readUncommitted = env.SLUICE_READ_UNCOMMITTED === 'true'
  const expect = Number(env.SLUICE_EXPECT || 0)
  const consumer = kafka.consumer({
    groupId: `${topic}-js-reader-${readUncommitted}-${Date.now()}`,
    readUncommitted,
    maxWaitTimeInMs: 200
  })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  let seen = 0
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      seen++
      emit({ e: 'read', partition, offset: Number(message.offset), value: message.value.toString() })
    }
  })
  const deadline = Date.now() + 30000
  while (seen < expect && Date.now() < deadline) await sleep(100)
  await sleep(2000)
  await consumer.disconnect()
}

const mode = process.argv[2]
const run = mode === 'produce' ? produce : mode === 'read' ? read : null
if (run === null) {
  emit({ e: 'error', error: `unknown mode ${mode}` })
  process.exit(2)
}
run().then(() => emit({ e: 'done' })).catch(err => {
  emit({ e: 'error', error: `${err.name}: ${err.message}` })
  process.exit(1)
})
