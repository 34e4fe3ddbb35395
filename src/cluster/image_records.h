#pragma once
// A metadata image written as the metadata records that rebuild it (what a
// snapshot holds; Kafka's MetadataImage.write): replayed in order into an
// empty image (MetadataDelta) they give an image equal to this one, every
// field but the brokers' registration offsets, which become the offset the
// records are replayed at (Kafka keeps those in memory only too).
//
// Order: features, brokers (registration, then its fencing and controlled
// shutdown state in the RegisterBrokerRecord itself), broker configs,
// topics (TopicRecord, its PartitionRecords with leader and partition
// epochs as they are, its ConfigRecords), then the next producer id
// (ProducerIdsRecord, when one was ever allocated), each group sorted so
// the same image always gives the same bytes. SCRAM credentials, ACLs and
// client quotas come after the topics.
//
// Threads: any; reads an immutable image.

#include <cstdint>
#include <vector>

#include "cluster/metadata_image.h"
#include "protocol/metadata_records.h"

namespace sluice::cluster {

std::vector<std::vector<uint8_t>> image_records(const MetadataImage& image);

// Replays framed `records` into a fresh image holding `cluster_id` and
// `controller_id`, every record at `offset` (a snapshot's last offset).
Result<MetadataImagePtr> image_from_records(const std::vector<std::vector<uint8_t>>& records,
                                            const std::string& cluster_id, int32_t controller_id,
                                            int64_t offset);

// An ACL and its metadata record, both ways.
security::AclBinding acl_binding_of(const protocol::metadata::AccessControlEntryRecord& record);
protocol::metadata::AccessControlEntryRecord acl_record(const Uuid& id,
                                                        const security::AclBinding& binding);
// Sets one quota value of `entity` (remove: clears it).
protocol::metadata::ClientQuotaRecord client_quota_record(const ClientQuotaEntity& entity,
                                                          const std::string& key, double value,
                                                          bool remove = false);

}  // namespace sluice::cluster
