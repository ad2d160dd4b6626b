// fetch.js - read a whole partition from one broker with kafkajs's own
// Fetch (its internal Broker API): klab has no consumer groups before
// chapter 6, so kafkajs's Consumer cannot be used.  Shared by interop.js
// and cluster.js.
'use strict'

async function fetchAll(cluster, nodeId, topic, partition, high) {
  const b = await cluster.findBroker({ nodeId: String(nodeId) })
  const out = []
  let offset = 0
  while (offset < high) {
    const resp = await b.fetch({
      replicaId: -1,
      isolationLevel: 0,
      maxWaitTime: 100,
      minBytes: 1,
      maxBytes: 1 << 20,
      topics: [{ topic, partitions: [{ partition, fetchOffset: String(offset), maxBytes: 64 * 1024 }] }],
    })
    const pr = resp.responses[0].partitions[0]
    if (pr.errorCode !== 0) throw new Error(`Fetch error ${pr.errorCode} at ${offset}`)
    const msgs = pr.messages.filter(m => Number(m.offset) >= offset)
    if (msgs.length === 0) throw new Error(`Fetch returned nothing at ${offset} (high ${high})`)
    out.push(...msgs)
    offset = Number(msgs[msgs.length - 1].offset) + 1
  }
  return out
}

module.exports = { fetchAll }
