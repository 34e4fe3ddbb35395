#pragma once
// A Metadata answer whose topics are encoded once per metadata image.
//
// A topic's part of a Metadata response (name, id, partitions with leaders,
// epochs, replicas, ISR and offline replicas) depends only on the image and
// the response version; only its topic_authorized_operations depends on who
// asks. With one 9,999-partition topic and 100 producers refreshing their
// metadata, rebuilding and encoding that part for every request took ~15% of
// the broker's CPU (bench/RESULTS.md, "Point 4's target"). TopicPartCache
// keeps the encoded bytes of each topic's part up to (not including)
// topic_authorized_operations for the image requests are answered from, and
// MetadataAnswer writes them, then each request's own operations: the bytes
// are those of protocol::MetadataResponse built afresh, for every version.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "cluster/metadata_image.h"
#include "protocol/protocol.h"

namespace sluice::broker {

using EncodedTopicPart = std::shared_ptr<const std::vector<uint8_t>>;

// The topic's entry of a Metadata response as it is built afresh, with
// topic_authorized_operations omitted (the caller sets it).
protocol::MetadataResponse::MetadataResponseTopic describe_topic(
    const cluster::MetadataImage& image, const cluster::TopicImage& topic);

// The encoding in `version` of describe_topic(image, topic) up to (not
// including) topic_authorized_operations.
EncodedTopicPart encode_topic_part(const cluster::MetadataImage& image,
                                   const cluster::TopicImage& topic, int16_t version);

// Encoded topic parts of one image (the latest one asked for), by topic and
// version. Used from every reactor thread: the lock covers map look-ups and
// inserts only, never the encoding. When a request comes with another image
// than the cached one, the entries are dropped (a newer image) or the part is
// encoded without caching (an older one, held by a request that took it
// before the swap): the cache never holds more than one image's topics, and
// holds no image alive (a weak reference tells which one it is).
class TopicPartCache {
 public:
  EncodedTopicPart part(const cluster::MetadataImagePtr& image, const cluster::TopicImage& topic,
                        int16_t version);
  // Entries held (for tests).
  size_t size() const;

 private:
  // Makes `image` the cached one (dropping the entries of another), unless
  // it is older than the cached one: then false.
  bool use_image(const cluster::MetadataImagePtr& image);

  mutable std::mutex mutex_;
  std::weak_ptr<const cluster::MetadataImage> image_;
  // The topic objects of image_ (alive while it is: compared only when it is).
  std::map<std::pair<const cluster::TopicImage*, int16_t>, EncodedTopicPart> parts_;
};

// protocol::MetadataResponse with its topics as cached parts (or whole
// topics, for errors). RequestContext::reply() encodes it like the
// generated message; the parts it references are kept alive by keep_alive().
struct MetadataAnswer {
  struct Topic {
    EncodedTopicPart part;  // null: `error` is the whole entry
    int32_t authorized_operations = 0;
    protocol::MetadataResponse::MetadataResponseTopic error;
  };

  int32_t throttle_time_ms = 0;
  // Every field but throttle_time_ms and topics.
  protocol::MetadataResponse head;
  std::vector<Topic> topics;

  void add_topic(EncodedTopicPart part, int32_t authorized_operations);
  void add_error(protocol::MetadataResponse::MetadataResponseTopic error);

  void encode(WireWriter& writer, int16_t version) const;
  size_t size(int16_t version) const;
  std::vector<std::shared_ptr<const void>> keep_alive() const;
};

}  // namespace sluice::broker
