#!/usr/bin/env node
// kafkajs over a TLS and/or SASL listener of a running Sluice broker. Driven by
// tests/integration/security/clients.py through environment variables:
//   SLUICE_BOOTSTRAP, SLUICE_TOPIC, SLUICE_PROTOCOL (SSL|SASL_PLAINTEXT|SASL_SSL),
//   SLUICE_SSL_CA / SLUICE_SSL_CERT / SLUICE_SSL_KEY (PEM paths),
//   SLUICE_SASL_MECHANISM (PLAIN|SCRAM-SHA-256|SCRAM-SHA-512), SLUICE_SASL_USER, SLUICE_SASL_PASSWORD,
//   SLUICE_MODE: roundtrip (produce SLUICE_COUNT values, read them back with a consumer)
//                or produce-for (produce one value every 100 ms for SLUICE_RUN_MS ms),
// and prints one JSON line: {"ok", "error", "message", "sent", "read"}. A refused
// connection is a result ({"ok": false, "error": <kafkajs error name>}), not a crash.
'use strict'

const fs = require('node:fs')
const { Kafka, logLevel } = require('kafkajs')

const env = process.env
const protocol = env.SLUICE_PROTOCOL || 'PLAINTEXT'
const topic = env.SLUICE_TOPIC
const count = Number(env.SLUICE_COUNT || 10)

function clientConfig () {
  const config = {
    clientId: 'sluice-security-it',
    brokers: [env.SLUICE_BOOTSTRAP],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 5000,
    authenticationTimeout: 5000,
    requestTimeout: 15000,
    retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 1000 }
  }
  if (protocol === 'SSL' || protocol === 'SASL_SSL') {
    const ssl = {}
    if (env.SLUICE_SSL_CA) ssl.ca = [fs.readFileSync(env.SLUICE_SSL_CA, 'utf8')]
    if (env.SLUICE_SSL_CERT) ssl.cert = fs.readFileSync(env.SLUICE_SSL_CERT, 'utf8')
    if (env.SLUICE_SSL_KEY) ssl.key = fs.readFileSync(env.SLUICE_SSL_KEY, 'utf8')
    config.ssl = ssl
  }
  if (protocol.startsWith('SASL_')) {
    config.sasl = {
      mechanism: (env.SLUICE_SASL_MECHANISM || 'PLAIN').toLowerCase(),
      username: env.SLUICE_SASL_USER,
      password: env.SLUICE_SASL_PASSWORD
    }
  }
  return config
}

async function roundTrip (kafka, result) {
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  try {
    const messages = []
    for (let i = 0; i < count; i++) messages.push({ value: `js-${i}`, partition: 0 })
    await producer.send({ topic, acks: -1, messages })
    result.sent = count
  } finally {
    await producer.disconnect()
  }
  const consumer = kafka.consumer({ groupId: `sluice-security-${process.pid}` })
  await consumer.connect()
  try {
    await consumer.subscribe({ topic, fromBeginning: true })
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${result.read.length} of ${count} in 20 s`)), 20000)
      consumer.run({
        eachMessage: async ({ message }) => {
          result.read.push(message.value.toString())
          if (result.read.length >= count) { clearTimeout(timer); resolve() }
        }
      }).catch(reject)
    })
  } finally {
    await consumer.disconnect()
  }
}

async function produceFor (kafka, result) {
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  try {
    const end = Date.now() + Number(env.SLUICE_RUN_MS || 6000)
    while (Date.now() < end) {
      await producer.send({ topic, acks: -1, messages: [{ value: `js-${result.sent}`, partition: 0 }] })
      result.sent++
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  } finally {
    await producer.disconnect()
  }
}

async function main () {
  const result = { ok: false, error: null, message: null, sent: 0, read: [] }
  const kafka = new Kafka(clientConfig())
  try {
    if (env.SLUICE_MODE === 'produce-for') await produceFor(kafka, result)
    else await roundTrip(kafka, result)
    result.ok = true
  } catch (e) {
    result.error = e.name
    result.message = String(e.message)
    if (e.cause) result.message += ` (cause: ${e.cause.name}: ${e.cause.message})`
  }
  console.log(JSON.stringify(result))
}

main().then(() => process.exit(0), e => { console.error(e); process.exit(1) })
