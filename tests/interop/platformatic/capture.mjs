// capture.mjs BROKER - the requests of tests/ch3/golden/platformatic-*.bin:
// @platformatic/kafka 1.35.0 against ../capture/fakebroker.js (run by
// ../capture/capture.sh). Fixed keys, values and timestamps, so that the
// frames repeat byte for byte (but for a random transactional id, which an
// idempotent InitProducerId without transactions does not send).
import { Admin, Consumer, Producer, ProduceAcks, stringSerializers } from '@platformatic/kafka'

const [broker] = process.argv.slice(2)
const common = { clientId: 'klab-golden', bootstrapBrokers: [broker], timeout: 5000, retries: 0 }
const T = 'golden'
const messages = Array.from({ length: 3 }, (_, i) => ({
  topic: T,
  key: `key-${i}`,
  value: `value ${i}`,
  headers: { trace: '7' },
  timestamp: 1700000000000n + BigInt(i),
}))

const admin = new Admin(common)
await admin.metadata({ topics: [] }) // ApiVersions v3, Metadata (no topics)
await admin.createTopics({ topics: [T], partitions: 1 })
const producer = new Producer({ ...common, serializers: stringSerializers, idempotent: true })
await producer.send({ messages }) // Metadata (the topic), InitProducerId, Produce
await producer.close()
const consumer = new Consumer({ ...common, groupId: 'golden-group' })
await consumer.listOffsets({ topics: [T] })
const md = await consumer.metadata({ topics: [T] })
await consumer.fetch({
  node: 7,
  maxWaitTime: 100,
  topics: [{ topicId: md.topics.get(T).id, partitions: [{ partition: 0, fetchOffset: 0n, currentLeaderEpoch: -1, lastFetchedEpoch: -1, partitionMaxBytes: 1 << 20 }] }],
})
await consumer.findGroupCoordinator().catch(() => {})
await consumer.close(true)
await admin.deleteTopics({ topics: [T] })
await admin.close()
console.log('capture.mjs: done')
