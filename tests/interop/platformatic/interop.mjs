// interop.mjs BROKER OUTDIR - @platformatic/kafka 1.35.0 against a real
// `klab broker` (run by ../platformatic.sh, which starts the broker and checks
// the log on disk).
//
// @platformatic/kafka speaks only flexible versions of most APIs: it sends
// ApiVersions v3 and nothing older, then picks, for each API, the highest
// version both sides list among those it implements: Metadata 9-12,
// CreateTopics 7, DeleteTopics 6, Produce 7-11, ListOffsets 5-9, Fetch 12-17
// (13 and up name topics by id, which its consumer takes from Metadata),
// FindCoordinator 4-6, InitProducerId 3-5.
//
// Checks: ApiVersions; Metadata names broker 7 as controller; CreateTopics
// (3 partitions, replication factor left to the broker) and again
// (TOPIC_ALREADY_EXISTS); listTopics; per-topic Metadata with a topic id;
// its murmur2 = Kafka's; its default partitioner ((murmur2 >>> 0) % n, not the
// Java client's) and its compatibilityPartitioner (the Java one) each put
// every key where they say; N keyed records with headers and timestamps from
// each, and from an idempotent producer; ListOffsets (latest, earliest);
// every record read back with Consumer.fetch, no group (key, value, headers,
// timestamp, offset, partition); a group consumer fails with FindCoordinator's
// COORDINATOR_NOT_AVAILABLE (no group coordinator before chapter 6);
// DeleteTopics. Writes OUTDIR/partition-of (Java partitions, for
// platformatic.sh to compare with `klab repl` partition-of).
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import {
  Admin,
  Consumer,
  Producer,
  ProduceAcks,
  ListOffsetTimestamps,
  stringSerializers,
  murmur2,
  defaultPartitioner,
  compatibilityPartitioner,
} from '@platformatic/kafka'

const require = createRequire(import.meta.url)
const { check, describe, finish, run, bad, javaPartition, MURMUR2_CASES } = require('../lib/checks.js')

const [broker, outdir] = process.argv.slice(2)
const [host, port] = broker.split(':')
const BROKER_ID = 7
const N = 1000
const PARTS = 3
const T = 'plt-default' // the default partitioner
const TJ = 'plt-java' // compatibilityPartitioner, acks -1
const TI = 'plt-idempotent' // an idempotent producer
const GONE = 'plt-deleted'
const TOPICS = [T, TJ, TI, GONE]

const common = {
  clientId: 'klab-interop-platformatic',
  bootstrapBrokers: [broker],
  timeout: 10000,
  retries: 1,
  retryDelay: 200,
}

// Does an error (or anything it wraps) carry this Kafka error name?
function hasKafkaError(e, apiId, depth = 0) {
  if (!e || typeof e !== 'object' || depth > 5) return false
  if (e.apiId === apiId) return true
  if (typeof e.findBy === 'function' && e.findBy('apiId', apiId)) return true
  return [...(e.errors || []), e.cause].some(sub => hasKafkaError(sub, apiId, depth + 1))
}

const BASE = BigInt(Date.now() - 3600 * 1000)
const records = topic =>
  Array.from({ length: N }, (_, i) => ({
    topic,
    key: `key-${i}`,
    value: `value ${i} of ${topic}`,
    headers: { trace: '7', app: 'klab' },
    timestamp: BASE + BigInt(i),
  }))
const pltDefault = key => defaultPartitioner(null, Buffer.from(key)) % PARTS
// What each partition of a topic must hold, in order: the record numbers.
function expected(partitionOf) {
  const per = Array.from({ length: PARTS }, () => [])
  for (let i = 0; i < N; i++) per[partitionOf(`key-${i}`)].push(i)
  return per
}
const want = {
  [T]: expected(pltDefault),
  [TJ]: expected(k => javaPartition(k, PARTS)),
  [TI]: expected(pltDefault),
}

async function main() {
  const admin = new Admin(common)

  let differ = 0
  for (let i = 0; i < N; i++) if (pltDefault(`key-${i}`) !== javaPartition(`key-${i}`, PARTS)) differ++
  await check(
    `its murmur2 is Kafka's; compatibilityPartitioner is Java's; the default partitioner ((murmur2 >>> 0) % n) differs for ${differ} of ${N} keys`,
    async () => {
      const wrong = MURMUR2_CASES.filter(([k, h]) => murmur2(Buffer.from(k)) !== h)
      for (let i = 0; i < N; i++) {
        const k = Buffer.from(`key-${i}`)
        if (compatibilityPartitioner(null, k) % PARTS !== javaPartition(k, PARTS)) wrong.push([`key-${i}`, 'compat'])
        if (pltDefault(k) !== ((murmur2(k) >>> 0) % PARTS)) wrong.push([`key-${i}`, 'default'])
      }
      return wrong.length === 0 || JSON.stringify(wrong.slice(0, 5))
    }
  )
  fs.writeFileSync(
    path.join(outdir, 'partition-of'),
    ['key-0', 'key-1', 'key-7', 'key-42', 'key-999'].map(k => `${k} ${javaPartition(k, PARTS)}\n`).join('')
  )

  // Without ApiVersions v3 nothing else can be sent: one failure, not fifteen.
  let apis = []
  const spoken = await check('ApiVersions v3 answered', async () => {
    apis = await admin.listApis()
    return true
  })
  if (!spoken) {
    bad('the rest of interop.mjs is not run: @platformatic/kafka sends ApiVersions v3 only')
    await admin.close().catch(() => {})
    finish('interop.mjs')
  }
  await check('ApiVersions lists versions it implements of every API this suite uses', async () => {
    const mine = { Metadata: [9, 12], CreateTopics: [7, 7], DeleteTopics: [6, 6], Produce: [7, 11], ListOffsets: [5, 9], Fetch: [12, 17], FindCoordinator: [4, 6], InitProducerId: [3, 5] }
    const got = Object.entries(mine).map(([n, [lo, hi]]) => {
      const a = apis.find(x => x.name === n)
      if (!a) return `${n} missing`
      const ok = a.minVersion <= hi && a.maxVersion >= lo
      return `${n} ${a.minVersion}-${a.maxVersion}${ok ? '' : ` (needs ${lo}-${hi})`}`
    })
    console.log(`  broker lists: ${got.join(', ')}`)
    return got.every(s => !/missing|needs/.test(s)) || got.join(', ')
  })

  await check('Metadata: broker 7 at the listener, and the controller', async () => {
    const md = await admin.metadata({ topics: [] })
    const b = md.brokers.get(BROKER_ID)
    return (
      (md.controllerId === BROKER_ID && md.brokers.size === 1 && b && b.host === host && b.port === Number(port)) ||
      `controller ${md.controllerId}, brokers ${JSON.stringify([...md.brokers])}`
    )
  })

  await check(`createTopics: ${TOPICS.length} topics with ${PARTS} partitions, replicas left to the broker`, async () => {
    const created = await admin.createTopics({ topics: TOPICS, partitions: PARTS })
    const good =
      created.length === TOPICS.length &&
      created.every(t => TOPICS.includes(t.name) && t.partitions === PARTS && t.replicas === 1)
    return good || JSON.stringify(created)
  })

  await check('createTopics again: TOPIC_ALREADY_EXISTS', async () => {
    try {
      const created = await admin.createTopics({ topics: [T], partitions: PARTS })
      return `no error: ${JSON.stringify(created)}`
    } catch (e) {
      return hasKafkaError(e, 'TOPIC_ALREADY_EXISTS') || describe(e)
    }
  })

  await check('listTopics lists them', async () => {
    const l = await admin.listTopics()
    return TOPICS.every(t => l.includes(t)) || JSON.stringify(l)
  })

  await check(`metadata ${T}: a topic id, ${PARTS} partitions led by broker 7`, async () => {
    const md = await admin.metadata({ topics: [T], forceUpdate: true })
    const t = md.topics.get(T)
    const good =
      t &&
      /^[0-9a-f-]{36}$/.test(t.id) &&
      t.id !== '00000000-0000-0000-0000-000000000000' &&
      t.partitionsCount === PARTS &&
      t.partitions.every(
        p => p.leader === BROKER_ID && JSON.stringify(p.replicas) === `[${BROKER_ID}]` && JSON.stringify(p.isr) === `[${BROKER_ID}]`
      )
    return good || JSON.stringify(t)
  })

  // ---- producers ----------------------------------------------------------------
  const sends = [
    { topic: T, name: 'default partitioner, acks 1', opts: {}, send: { acks: ProduceAcks.LEADER } },
    { topic: TJ, name: 'compatibilityPartitioner, acks -1', opts: { partitioner: compatibilityPartitioner }, send: { acks: ProduceAcks.ALL } },
    { topic: TI, name: 'idempotent: InitProducerId, then Produce with sequences', opts: { idempotent: true, retries: 3 }, send: {} }, // retries > 1, or it retries for ever
  ]
  for (const s of sends) {
    const producer = new Producer({ ...common, serializers: stringSerializers, ...s.opts })
    await check(
      `producer.send: ${N} keyed records with headers (${s.name}), offsets as expected`,
      async () => {
        const all = records(s.topic)
        const firsts = new Map() // partition -> the base offsets reported
        for (let i = 0; i < N; i += 250) {
          const r = await producer.send({ messages: all.slice(i, i + 250), ...s.send })
          for (const o of r.offsets || []) {
            if (o.topic !== s.topic) return `offset for ${o.topic}`
            if (!firsts.has(o.partition)) firsts.set(o.partition, [])
            firsts.get(o.partition).push(Number(o.offset))
          }
        }
        // each request's base offset per partition: the records before it
        const problems = []
        for (let p = 0; p < PARTS; p++) {
          const got = firsts.get(p) || []
          const exp = []
          for (let i = 0; i < N; i += 250) {
            const before = want[s.topic][p].filter(x => x < i).length
            if (want[s.topic][p].some(x => x >= i && x < i + 250)) exp.push(before)
          }
          if (got.join() !== exp.join()) problems.push(`p${p}: base offsets ${got}, want ${exp}`)
        }
        return problems.length === 0 || problems.join('\n')
      },
      20000
    )
    await producer.close().catch(() => {})
  }

  // ---- reading back without a group ------------------------------------------------
  const consumer = new Consumer({ ...common, groupId: 'plt-unused' })
  await check('listOffsets: latest = the partitioners\' counts, earliest = 0', async () => {
    const topics = [T, TJ, TI]
    const latest = await consumer.listOffsets({ topics, timestamp: ListOffsetTimestamps.LATEST })
    const earliest = await consumer.listOffsets({ topics, timestamp: ListOffsetTimestamps.EARLIEST })
    const problems = []
    for (const t of topics) {
      const got = (latest.get(t) || []).map(Number).join(' ')
      const exp = want[t].map(l => l.length).join(' ')
      if (got !== exp) problems.push(`${t} latest: got ${got}, want ${exp}`)
      const e = (earliest.get(t) || []).map(Number).join(' ')
      if (e !== '0 0 0') problems.push(`${t} earliest: ${e}`)
    }
    return problems.length === 0 || problems.join('\n')
  })

  for (const topic of [T, TJ, TI]) {
    await check(
      `consumer.fetch (${topic}, by topic id, no group): every record back in its partition`,
      async () => {
        const md = await consumer.metadata({ topics: [topic] })
        const topicId = md.topics.get(topic).id
        const problems = []
        for (let p = 0; p < PARTS; p++) {
          const got = []
          let offset = 0n
          for (let round = 0; round < 50 && got.length < want[topic][p].length; round++) {
            const r = await consumer.fetch({
              node: BROKER_ID,
              maxWaitTime: 100,
              topics: [
                {
                  topicId,
                  partitions: [
                    { partition: p, fetchOffset: offset, currentLeaderEpoch: -1, lastFetchedEpoch: -1, partitionMaxBytes: 1 << 20 },
                  ],
                },
              ],
            })
            const part = r.responses[0]?.partitions[0]
            if (!part || part.errorCode !== 0) return `p${p}: ${JSON.stringify(r, (k, v) => (typeof v === 'bigint' ? String(v) : v)).slice(0, 400)}`
            for (const batch of part.records || []) {
              for (const rec of batch.records) {
                const o = batch.firstOffset + BigInt(rec.offsetDelta)
                if (o < offset) continue
                got.push({
                  offset: o,
                  key: rec.key && rec.key.toString(),
                  value: rec.value && rec.value.toString(),
                  timestamp: batch.firstTimestamp + rec.timestampDelta,
                  headers: rec.headers.map(([k, v]) => `${k}=${v}`).join(','),
                })
                offset = o + 1n
              }
            }
          }
          if (got.length !== want[topic][p].length) problems.push(`p${p}: ${got.length} records, want ${want[topic][p].length}`)
          got.forEach((m, k) => {
            const i = want[topic][p][k]
            if (i === undefined) return
            const good =
              m.key === `key-${i}` &&
              m.value === `value ${i} of ${topic}` &&
              m.offset === BigInt(k) &&
              m.timestamp === BASE + BigInt(i) &&
              m.headers === 'trace=7,app=klab'
            if (!good && problems.length < 5) problems.push(`p${p}[${k}]: ${JSON.stringify(m, (x, v) => (typeof v === 'bigint' ? String(v) : v))}`)
          })
        }
        return problems.length === 0 || problems.join('\n')
      },
      20000
    )
  }
  await consumer.close(true).catch(() => {})

  // ---- a group consumer: no coordinator before chapter 6 ------------------------------
  await check('consumer.consume with a group: FindCoordinator answers COORDINATOR_NOT_AVAILABLE', async () => {
    const group = new Consumer({ ...common, groupId: 'plt-group', retries: 1, retryDelay: 100 })
    try {
      const stream = await group.consume({ topics: [T], mode: 'earliest' })
      await stream.close().catch(() => {})
      return 'the group consumer started: does klab have a group coordinator now?'
    } catch (e) {
      return hasKafkaError(e, 'COORDINATOR_NOT_AVAILABLE') || describe(e)
    } finally {
      await group.close(true).catch(() => {})
    }
  }, 15000)

  await check(`deleteTopics ${GONE}; listTopics has ${T} and no longer ${GONE}`, async () => {
    await admin.deleteTopics({ topics: [GONE] })
    const l = await admin.listTopics()
    return (l.includes(T) && !l.includes(GONE)) || JSON.stringify(l)
  })

  await admin.close().catch(() => {})
}

run('interop.mjs', main)
