#!/usr/bin/env node
// Produces golden_messages.json to a broker with kafkajs, one codec.
// kafkajs is installed in tests/clients/js (npm ci there).
'use strict'

const path = require('path')
const fs = require('fs')
const { createRequire } = require('module')

const jsDir = path.join(__dirname, '..', '..', 'tests', 'clients', 'js')
const jsRequire = createRequire(path.join(jsDir, 'package.json'))
const { Kafka, CompressionTypes, CompressionCodecs, Partitioners, logLevel } =
  jsRequire('kafkajs')

// kafkajs ships gzip only. Snappy comes from the kafkajs-snappy plugin; LZ4
// from lz4js (pure JS, LZ4 frame format, as Kafka expects), because the
// kafkajs-lz4 plugin needs a native addon built against node headers.
CompressionCodecs[CompressionTypes.Snappy] = jsRequire('kafkajs-snappy')
CompressionCodecs[CompressionTypes.LZ4] = () => {
  const lz4 = jsRequire('lz4js')
  return {
    async compress (encoder) { return Buffer.from(lz4.compress(encoder.buffer)) },
    async decompress (buffer) { return Buffer.from(lz4.decompress(buffer)) }
  }
}

const codecs = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4
}

async function main () {
  const [bootstrap, codecName] = process.argv.slice(2)
  if (!bootstrap || !(codecName in codecs)) {
    console.error('usage: produce_kafkajs.js HOST:PORT none|gzip|snappy|lz4')
    process.exit(2)
  }
  const golden = JSON.parse(
    fs.readFileSync(path.join(__dirname, 'golden_messages.json'), 'utf8'))
  const kafka = new Kafka({
    clientId: 'kafkajs',
    brokers: [bootstrap],
    logLevel: logLevel.WARN,
    retry: { retries: 0 }
  })
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false
  })
  await producer.connect()
  await producer.send({
    topic: golden.topic,
    compression: codecs[codecName],
    messages: golden.records.map(r => ({
      key: r.key,
      value: r.value,
      partition: golden.partition,
      timestamp: String(r.timestamp_ms),
      // Object key order is insertion order, so headers keep their order.
      headers: Object.fromEntries(r.headers.map(h => [h.key, h.value]))
    }))
  })
  await producer.disconnect()
}

main().catch(err => { console.error(err); process.exit(1) })
