// capture.js BROKER - the requests of tests/ch3/golden/kafkats-*.bin: kafka-ts
// 1.5.0 against ../capture/fakebroker.js (run by ../capture/capture.sh).
// Fixed keys, values and timestamps, so that the frames repeat byte for byte.
'use strict'
const { createKafkaClient, API, setLogger } = require('kafka-ts')

const [broker] = process.argv.slice(2)
const [host, port] = broker.split(':')
setLogger({ debug() {}, info() {}, warn() {}, error() {} })
const kafka = createKafkaClient({ clientId: 'klab-golden', bootstrapServers: [{ host, port: Number(port) }], requestTimeout: 5000 })
const T = 'golden'

async function main() {
  const cluster = kafka.createCluster()
  await cluster.connect() // ApiVersions v4, refused; then v3
  await cluster.sendRequestToNode(7)(API.CREATE_TOPICS, {
    topics: [{ name: T, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 5000,
    validateOnly: false,
  })
  const producer = kafka.createProducer({ maxRetries: 0 })
  await producer.send(
    Array.from({ length: 3 }, (_, i) => ({
      topic: T,
      key: `key-${i}`,
      value: `value ${i}`,
      headers: { trace: '7' },
      timestamp: 1700000000000n + BigInt(i),
    }))
  ) // Metadata, InitProducerId, Produce
  await producer.close()
  await cluster.disconnect()
  console.log('capture.js: done')
}
main().catch(e => {
  console.log(`capture.js: ${e.message}`)
  process.exit(1)
})
