#include "connect/runtime/task_thread.h"

namespace sluice::connect {

bool TaskThread::set_up_records(TransformationChain& chain, TaskConverters& converters) {
  auto made_chain = TransformationChain::from_config(settings_.task.connector_config);
  if (!made_chain.is_ok()) {
    fail(made_chain.status().message());
    return false;
  }
  auto made_converters =
      make_task_converters(settings_.task.connector_config, settings_.converters);
  if (!made_converters.is_ok()) {
    fail(made_converters.status().message());
    return false;
  }
  chain = std::move(*made_chain);
  converters = std::move(*made_converters);
  return true;
}

RdKafka TaskThread::make_task_client(ClientKind kind, const Properties& base,
                                     const std::function<void(rd_kafka_conf_t*)>& customize) {
  auto conf = make_client_conf(
      client_settings(settings_.worker, settings_.task.connector_config, kind, base));
  if (!conf.is_ok()) {
    fail(conf.status().message());
    return nullptr;
  }
  rd_kafka_conf_set_opaque(conf->get(), this);
  if (customize) customize(conf->get());
  auto client = make_client(std::move(*conf), kind);
  if (!client.is_ok()) {
    fail(client.status().message());
    return nullptr;
  }
  return std::move(*client);
}

}  // namespace sluice::connect
