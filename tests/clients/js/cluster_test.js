#!/usr/bin/env node
// kafkajs bootstrapped from each node of a Sluice cluster (issue 15: "kafkajs
// clients bootstrapped from any node work"): through every node in turn, the
// admin creates a topic (forwarded to the active controller when that node is
// not it), lists topics and describes the cluster; a producer writes a few
// records and a consumer group reads them back. Run by
// tests/integration/cluster/test_kafkajs_cluster.py, which starts the cluster
// and passes SLUICE_BOOTSTRAPS (host:port of each broker, comma separated),
// SLUICE_BROKER_IDS (their node ids, same order) and SLUICE_TOPIC_PREFIX.
'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const { Kafka, logLevel } = require('kafkajs')

const bootstraps = (process.env.SLUICE_BOOTSTRAPS || '').split(',').filter(Boolean)
const brokerIds = (process.env.SLUICE_BROKER_IDS || '').split(',').filter(Boolean).map(Number)
const prefix = process.env.SLUICE_TOPIC_PREFIX || `jsc-${process.pid}`
if (bootstraps.length === 0 || bootstraps.length !== brokerIds.length) {
  console.error('SLUICE_BOOTSTRAPS and SLUICE_BROKER_IDS must list the same brokers')
  process.exit(2)
}

const RECORDS = 5
const PARTITIONS = 3

function client (bootstrap) {
  return new Kafka({
    clientId: 'sluice-it-kafkajs-cluster',
    brokers: [bootstrap],
    logLevel: logLevel.ERROR,
    retry: { retries: 8, initialRetryTime: 200 }
  })
}

// Resolves with the first `count` messages the consumer sees, or rejects.
function consume (consumer, count, timeoutMs) {
  return new Promise((resolve, reject) => {
    const seen = []
    const timer = setTimeout(() => reject(new Error(`only ${seen.length} of ${count} records within ${timeoutMs} ms`)), timeoutMs)
    consumer.run({
      eachMessage: async ({ partition, message }) => {
        seen.push({ partition, key: message.key.toString(), value: message.value.toString() })
        if (seen.length === count) {
          clearTimeout(timer)
          resolve(seen)
        }
      }
    }).catch(reject)
  })
}

for (const [index, bootstrap] of bootstraps.entries()) {
  const via = brokerIds[index]
  test(`kafkajs bootstrapped from node ${via}`, async (t) => {
    const kafka = client(bootstrap)
    const topic = `${prefix}-via-${via}`
    const admin = kafka.admin()
    await admin.connect()
    t.after(() => admin.disconnect())

    await t.test('admin creates a topic', async () => {
      const created = await admin.createTopics({
        topics: [{ topic, numPartitions: PARTITIONS }],
        waitForLeaders: true
      })
      assert.equal(created, true)
    })

    await t.test('describeCluster names every broker and the controller', async () => {
      const cluster = await admin.describeCluster()
      assert.deepEqual(cluster.brokers.map(b => b.nodeId).sort((a, b) => a - b),
        [...brokerIds].sort((a, b) => a - b))
      assert.ok(cluster.controller !== null && cluster.controller >= 0, `controller ${cluster.controller}`)
      assert.ok(cluster.clusterId.length > 0)
    })

    await t.test('listTopics and fetchTopicMetadata see the topic', async () => {
      assert.ok((await admin.listTopics()).includes(topic))
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] })
      assert.equal(topics[0].partitions.length, PARTITIONS)
      for (const partition of topics[0].partitions) assert.ok(brokerIds.includes(partition.leader))
    })

    await t.test('a producer and a consumer group', async () => {
      const producer = kafka.producer()
      await producer.connect()
      const messages = []
      for (let i = 0; i < RECORDS; i++) messages.push({ key: `k${i}`, value: `via-${via}-${i}`, partition: i % PARTITIONS })
      const acks = await producer.send({ topic, messages })
      assert.equal(acks.reduce((n, ack) => n + 1, 0) > 0, true)
      await producer.disconnect()

      const consumer = kafka.consumer({ groupId: `${topic}-group`, sessionTimeout: 10000, heartbeatInterval: 500, maxWaitTimeInMs: 500 })
      await consumer.connect()
      await consumer.subscribe({ topic, fromBeginning: true })
      try {
        const seen = await consume(consumer, RECORDS, 30000)
        assert.deepEqual(seen.map(m => m.value).sort(), messages.map(m => m.value).sort())
      } finally {
        await consumer.disconnect()
      }
    })
  })
}
