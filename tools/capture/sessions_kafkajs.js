#!/usr/bin/env node
// A whole kafkajs session for record_proxy.py: admin calls, a producer, a
// consumer group that commits, then leaving. Errors are printed and skipped:
// a capture run only needs each request sent once.
'use strict'

const path = require('path')
const { createRequire } = require('module')

const jsDir = path.join(__dirname, '..', '..', 'tests', 'clients', 'js')
const { Kafka, logLevel } = createRequire(path.join(jsDir, 'package.json'))('kafkajs')

async function attempt (what, action) {
  try {
    return await action()
  } catch (error) {
    console.error(`sessions_kafkajs: ${what} failed: ${error.message}`)
  }
}

async function main () {
  const kafka = new Kafka({ clientId: 'kafkajs', brokers: [process.argv[2]], logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  await attempt('createTopics', () => admin.createTopics({
    topics: [{ topic: 'fz-js', numPartitions: 2, configEntries: [{ name: 'retention.ms', value: '60000' }] }]
  }))
  await attempt('createPartitions', () => admin.createPartitions({ topicPartitions: [{ topic: 'fz-js', count: 3 }] }))
  await attempt('describeConfigs', () => admin.describeConfigs({ resources: [{ type: 2, name: 'fz-js' }] }))
  await attempt('fetchTopicOffsets', () => admin.fetchTopicOffsets('fz-js'))
  await attempt('describeCluster', () => admin.describeCluster())

  const producer = kafka.producer({ idempotent: false })
  await producer.connect()
  await attempt('send', () => producer.send({
    topic: 'fz-js',
    messages: Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: `v${i}`, headers: { h: 'x' } }))
  }))
  await producer.disconnect()

  const consumer = kafka.consumer({ groupId: 'fz-js-group', sessionTimeout: 6000, heartbeatInterval: 500 })
  await consumer.connect()
  await consumer.subscribe({ topic: 'fz-js', fromBeginning: true })
  let seen = 0
  await consumer.run({ eachMessage: async () => { seen++ } })
  for (let i = 0; i < 50 && seen < 20; i++) await new Promise(resolve => setTimeout(resolve, 100))
  await new Promise(resolve => setTimeout(resolve, 1500))  // heartbeats and commits
  await consumer.disconnect()

  await attempt('describeGroups', () => admin.describeGroups(['fz-js-group']))
  await attempt('fetchOffsets', () => admin.fetchOffsets({ groupId: 'fz-js-group', topics: ['fz-js'] }))
  await attempt('deleteTopicRecords', () => admin.deleteTopicRecords({ topic: 'fz-js', partitions: [{ partition: 0, offset: '1' }] }))
  await attempt('deleteGroups', () => admin.deleteGroups(['fz-js-group']))
  await attempt('deleteTopics', () => admin.deleteTopics({ topics: ['fz-js'] }))
  await admin.disconnect()
}

main().catch(error => { console.error(error); process.exit(1) })
