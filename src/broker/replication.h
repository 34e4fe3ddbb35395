#pragma once
// The broker's half of Kafka's ISR replication (issue 16): the leader's
// answer to a follower's Fetch, and acks=all Produce answers that wait for
// the high watermark (replication.cc). The fetchers (followers) and the ISR
// changes live in cluster/ (replica_fetcher.h, isr_manager.h); the Broker
// wires them (broker_replication.cc).

#include <functional>
#include <memory>
#include <vector>

#include "broker/request_context.h"
#include "cluster/partition.h"
#include "protocol/messages.h"

namespace sluice::broker {

class Broker;

// A Fetch with a replica id (a follower): answered on a fetch-read worker
// up to each log's end; a follower that may join the ISR is proposed to the
// controller. Its records go out as consumers' do (fetch.cc): a range whose
// pages are in the page cache by sendfile, with no copy; a cold one is read
// into memory on the worker (sendfile on the reactor would wait for the
// disk). The leader's bookkeeping (the follower's log end, the high
// watermark) is done by Partition::read_for_replica either way.
void handle_replica_fetch(Broker& broker, RequestContext context, protocol::FetchRequest request);

// Whether a file range goes out by sendfile (consumers' and followers'
// Fetch): a real file descriptor, at least WireWriter::external_threshold_bytes
// (smaller ranges cost less to copy) and below net::file_slice_length_max.
bool zero_copy_sendable(const storage::FileRange& range);

// One partition of an acks=all Produce waiting for its batch to be committed.
struct ReplicationTarget {
  size_t topic_index;
  size_t partition_index;
  std::shared_ptr<cluster::Partition> partition;
  int64_t end_offset;    // the high watermark the batch needs
  int32_t leader_epoch;  // the epoch it was written in (cluster::acks_all_outcome)
};

using ProduceContinuation = std::function<void(RequestContext, protocol::ProduceResponse)>;

// Kafka's DelayedProduce: `then` runs once every target's high watermark
// reached its end offset (or the partition lost its leadership, even if it
// leads again in a later epoch: NOT_LEADER_OR_FOLLOWER; or fewer than min.insync.replicas remain:
// NOT_ENOUGH_REPLICAS_AFTER_APPEND), or after `timeout_ms` with
// REQUEST_TIMED_OUT for those still waiting.
void answer_when_replicated(Broker& broker, RequestContext context,
                            protocol::ProduceResponse response,
                            std::vector<ReplicationTarget> targets, int32_t timeout_ms,
                            ProduceContinuation then);

}  // namespace sluice::broker
