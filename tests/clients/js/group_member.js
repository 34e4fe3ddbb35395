// One kafkajs consumer-group member as its own process, driven by
// tests/integration/groups/test_group_clients.py.
//
//   node group_member.js BOOTSTRAP GROUP TOPIC MODE COMMIT ASSIGNOR JOURNAL
//     MODE     eachMessage | eachBatch
//     COMMIT   auto (kafkajs commits) | manual (commitOffsets after each message or batch)
//     ASSIGNOR kafkajs (its RoundRobinAssigner) | roundrobin (the same algorithm under the
//              protocol name librdkafka and kafka-python use, so they can share a group)
//
// Journal lines (appended with a synchronous write before the next step):
//   G <p,p,...>   the member's assignment after a join (kafkajs rebalances eagerly)
//   M <p> <o>     processed
//   C <p> <o>     committed by commitOffsets (manual mode): the next offset to consume
//   L             disconnected (after SIGTERM)
const fs = require('fs')
const { Kafka, logLevel, PartitionAssigners } = require('kafkajs')

const [bootstrap, groupId, topic, mode, commit, assignor, journalPath] = process.argv.slice(2)
const journal = fs.openSync(journalPath, 'a')
const write = lines => {
  if (lines.length) fs.writeSync(journal, lines.join('\n') + '\n')
}

const roundRobinNamedForOtherClients = ({ cluster }) => ({
  ...PartitionAssigners.roundRobin({ cluster }),
  name: 'roundrobin',
})

const kafka = new Kafka({ clientId: `js-${mode}-${commit}`, brokers: [bootstrap], logLevel: logLevel.NOTHING })
const consumer = kafka.consumer({
  groupId,
  partitionAssigners: [assignor === 'roundrobin' ? roundRobinNamedForOtherClients : PartitionAssigners.roundRobin],
  sessionTimeout: 10000,
  heartbeatInterval: 500,
  rebalanceTimeout: 20000,
  maxWaitTimeInMs: 200,
})
const autoCommit = commit === 'auto'
const next = offset => (BigInt(offset) + 1n).toString()

consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
  write(['G ' + (payload.memberAssignment[topic] || []).join(',')])
})

async function commitProcessed(partition, offset) {
  await consumer.commitOffsets([{ topic, partition, offset: next(offset) }])
  write([`C ${partition} ${next(offset)}`])
}

async function main() {
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  if (mode === 'eachMessage') {
    await consumer.run({
      autoCommit,
      eachMessage: async ({ partition, message }) => {
        write([`M ${partition} ${message.offset}`])
        if (!autoCommit) await commitProcessed(partition, message.offset)
      },
    })
  } else {
    await consumer.run({
      autoCommit,
      eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
        write(batch.messages.map(m => `M ${batch.partition} ${m.offset}`))
        for (const m of batch.messages) resolveOffset(m.offset)
        if (!autoCommit && batch.messages.length)
          await commitProcessed(batch.partition, batch.messages[batch.messages.length - 1].offset)
        await heartbeat()
      },
    })
  }
}

process.on('SIGTERM', async () => {
  await consumer.disconnect()
  write(['L'])
  process.exit(0)
})

main().catch(error => {
  write([`E ${error}`])
  process.exit(1)
})
