#pragma once
// A connector's transformation chain from its configuration, as Kafka
// Connect's ConnectorConfig reads it:
//   transforms=a,b                      aliases, applied in this order
//   transforms.a.type=<class>           the transform, its settings as
//   transforms.a.<setting>=...          transforms.a.<setting>
//   transforms.a.predicate=p            apply only when predicate p holds
//   transforms.a.negate=true            ... or only when it does not
//   predicates=p
//   predicates.p.type=<class>
//   predicates.p.<setting>=...
// with Kafka's validation messages (duplicate aliases, missing type, unknown
// class, negate without predicate, each plugin's own ConfigException).

#include <memory>
#include <optional>
#include <vector>

#include "connect/transform.h"

namespace sluice::connect {

class TransformationChain {
 public:
  // `config` is the whole connector configuration (other keys are ignored).
  static Result<TransformationChain> from_config(const Properties& config);

  // The record after every stage, or nullopt when a stage dropped it (Filter).
  Result<std::optional<ConnectRecord>> apply(ConnectRecord record);
  size_t size() const { return stages_.size(); }
  // The class of the transformation whose apply() failed last (Kafka's
  // executing class, as the dead-letter context headers name it).
  const std::string& failed_class() const { return failed_class_; }

 private:
  struct Stage {
    std::unique_ptr<Transformation> transformation;
    std::shared_ptr<Predicate> predicate;  // shared: several stages may name one
    bool negate = false;
    std::string class_name;
  };

  std::vector<Stage> stages_;
  std::string failed_class_;
};

}  // namespace sluice::connect
