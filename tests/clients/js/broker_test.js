#!/usr/bin/env node
// kafkajs against a running Sluice broker: admin createTopics / fetchTopicMetadata /
// fetchTopicOffsets / createPartitions, and a producer with every codec kafkajs can use.
// Run by tests/integration/broker/test_kafkajs.py, which starts the broker, passes
// SLUICE_BOOTSTRAP and SLUICE_TOPIC_PREFIX, and then reads the produced messages back
// with kcat to check them byte for byte. Uses node's built-in test runner: a failed
// test makes the process exit non-zero.
'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const { Kafka, CompressionTypes, CompressionCodecs, Partitioners, logLevel } = require('kafkajs')

// kafkajs ships gzip; snappy comes from kafkajs-snappy, LZ4 (frame format) from lz4js.
CompressionCodecs[CompressionTypes.Snappy] = require('kafkajs-snappy')
CompressionCodecs[CompressionTypes.LZ4] = () => {
  const lz4 = require('lz4js')
  return {
    async compress (encoder) { return Buffer.from(lz4.compress(encoder.buffer)) },
    async decompress (buffer) { return Buffer.from(lz4.decompress(buffer)) }
  }
}

const bootstrap = process.env.SLUICE_BOOTSTRAP
const prefix = process.env.SLUICE_TOPIC_PREFIX || `js-${process.pid}`
if (!bootstrap) {
  console.error('SLUICE_BOOTSTRAP is not set (host:port of a running broker)')
  process.exit(2)
}

const CODECS = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4
}
// Keep in step with expected_messages() in test_kafkajs.py.
const PER_CODEC = 3000
const PARTITIONS = 3

function message (codec, i) {
  return {
    key: `k${i % 17}`,
    value: `${codec}-${i}-` + 'x'.repeat(i % 50),
    headers: { h: `${i}` },
    partition: i % PARTITIONS
  }
}

const kafka = new Kafka({
  clientId: 'sluice-it-kafkajs',
  brokers: [bootstrap],
  logLevel: logLevel.ERROR,
  retry: { retries: 3, initialRetryTime: 200 }
})

test('kafkajs against sluice', async (t) => {
  const admin = kafka.admin()
  await admin.connect()
  t.after(() => admin.disconnect())

  const metaTopic = `${prefix}-meta`
  await t.test('createTopics creates, and reports an existing topic as not created', async () => {
    assert.equal(await admin.createTopics({
      topics: [{ topic: metaTopic, numPartitions: PARTITIONS, replicationFactor: 1 }],
      waitForLeaders: true
    }), true)
    assert.equal(await admin.createTopics({
      topics: [{ topic: metaTopic, numPartitions: PARTITIONS, replicationFactor: 1 }]
    }), false)
    const listed = await admin.listTopics()
    assert.ok(listed.includes(metaTopic), `listTopics: ${listed}`)
  })

  await t.test('fetchTopicMetadata shows partitions led by node 1', async () => {
    const { topics } = await admin.fetchTopicMetadata({ topics: [metaTopic] })
    assert.equal(topics.length, 1)
    assert.equal(topics[0].name, metaTopic)
    const parts = [...topics[0].partitions].sort((a, b) => a.partitionId - b.partitionId)
    assert.deepEqual(parts.map(p => p.partitionId), [0, 1, 2])
    for (const p of parts) {
      assert.equal(p.partitionErrorCode, 0)
      assert.equal(p.leader, 1)
      assert.deepEqual(p.replicas, [1])
      assert.deepEqual(p.isr, [1])
    }
  })

  await t.test('createPartitions grows a topic', async () => {
    const topic = `${prefix}-grow`
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })
    await admin.createPartitions({ topicPartitions: [{ topic, count: 4 }] })
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] })
    assert.equal(topics[0].partitions.length, 4)
    const offsets = await admin.fetchTopicOffsets(topic)
    assert.equal(offsets.length, 4)
    for (const o of offsets) assert.deepEqual([o.low, o.high], ['0', '0'])
  })

  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false
  })
  await producer.connect()
  t.after(() => producer.disconnect())

  for (const [codec, type] of Object.entries(CODECS)) {
    await t.test(`produce ${PER_CODEC} messages with ${codec}, then fetchTopicOffsets`, async () => {
      const topic = `${prefix}-${codec}`
      await admin.createTopics({
        topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }],
        waitForLeaders: true
      })
      const batch = 500
      const next = [0, 0, 0]
      for (let start = 0; start < PER_CODEC; start += batch) {
        const messages = []
        for (let i = start; i < Math.min(start + batch, PER_CODEC); i++) messages.push(message(codec, i))
        const results = await producer.send({ topic, compression: type, acks: -1, messages })
        for (const r of results) {
          assert.equal(r.errorCode, 0)
          // Each send appends this send's messages right after the previous ones.
          assert.equal(Number(r.baseOffset), next[r.partition], `partition ${r.partition} base offset`)
          next[r.partition] += messages.filter(m => m.partition === r.partition).length
        }
      }
      const offsets = await admin.fetchTopicOffsets(topic)
      const byPartition = Object.fromEntries(offsets.map(o => [o.partition, o]))
      for (let p = 0; p < PARTITIONS; p++) {
        const count = Math.floor(PER_CODEC / PARTITIONS) + (p < PER_CODEC % PARTITIONS ? 1 : 0)
        assert.equal(byPartition[p].low, '0')
        assert.equal(byPartition[p].high, String(count))
        assert.equal(byPartition[p].offset, String(count))
      }
    })
  }

  await t.test('fetchTopicOffsetsByTimestamp finds the first offset at or after a time', async () => {
    const topic = `${prefix}-time`
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })
    const base = Date.now() - 60000
    await producer.send({
      topic,
      acks: -1,
      messages: [0, 1, 2, 3].map(i => ({ value: `t${i}`, partition: 0, timestamp: String(base + i * 1000) }))
    })
    const [found] = await admin.fetchTopicOffsetsByTimestamp(topic, base + 1500)
    assert.deepEqual([found.partition, found.offset], [0, '2'])
  })
})
