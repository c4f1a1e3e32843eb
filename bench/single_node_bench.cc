// Single-node benchmark: PutItem and GetItem against one node (Engine + NodeServer + HttpServer
// on 127.0.0.1, fsync per acknowledged write) through the native ZeroMQ path (the C++ client
// library, signed frames) and through DynamoDB's HTTP API (keep-alive connections, every request
// signed with SigV4 and verified), beside the limits measured in the same run: raw RocksDB Put
// (sync=true) and Get of the same encoded items, the fsync floor of the data folder's disk, and a
// ZeroMQ DEALER/ROUTER loopback round trip.
//
//   build/bench/single_node_bench [--seconds 5] [--items 10000] [--value-bytes 1000]
//                                 [--threads 1,16] [--dir /tmp] [--json FILE]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include <nlohmann/json.hpp>

#include "bench/closed_loop.h"
#include "meridian/client.h"
#include "api/access.h"
#include "api/http_server.h"
#include "api/sigv4.h"
#include "region/node_server.h"
#include "storage/engine.h"
#include "storage/item_codec.h"

namespace meridian {
namespace {

using bench::Measure;
using bench::Row;

struct Config {
  double seconds = 5;
  int items = 10000;
  int value_bytes = 1000;
  std::vector<int> threads = {1, 16};
  std::string dir = "/tmp";
  std::string json_path;
};

// One keep-alive HTTP/1.1 connection that signs every request, as an SDK does.
class HttpClient {
 public:
  HttpClient(const std::string& host, unsigned short port, api::AccessKey key)
      : connection_(host, port), host_(host + ":" + std::to_string(port)), key_(std::move(key)) {}

  // Returns the response body, or nullopt on a transport error or a non-200 answer.
  std::optional<std::string> Call(const std::string& operation, const std::string& body) {
    api::SignableRequest signable;
    signable.body = body;
    signable.headers = {{"Host", host_},
                        {"Content-Type", "application/x-amz-json-1.0"},
                        {"X-Amz-Target", "DynamoDB_20120810." + operation}};
    api::SignSigV4(&signable, key_.access_key_id, key_.secret_access_key, "us-east-1", "dynamodb",
                   std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count());
    std::map<std::string, std::string> headers(signable.headers.begin(), signable.headers.end());
    auto reply = connection_.Post("/", headers, body);
    if (!reply || reply->status != 200) return std::nullopt;
    return std::move(reply->body);
  }

 private:
  bench::KeepAliveHttpClient connection_;
  std::string host_;
  api::AccessKey key_;
};

Item MakeItem(int i, int value_bytes) {
  std::string v(value_bytes, static_cast<char>('a' + i % 26));
  return Item{{"pk", AttributeValue::S("key-" + std::to_string(i))}, {"v", AttributeValue::S(v)}};
}

int Run(const Config& cfg) {
  std::filesystem::path root = std::filesystem::path(cfg.dir) / ("meridian-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(root);
  std::printf("machine: %s\n", bench::MachineLine(bench::DescribeMachine(root)).c_str());
  std::vector<Row> rows;
  {
    EngineOptions eo;
    eo.sync = true;
    auto engine = Engine::Open((root / "node").string(), eo);
    if (!engine.ok()) {
      std::fprintf(stderr, "open: %s\n", engine.status().ToString().c_str());
      return 1;
    }
    // Auth on, as a node runs by default: every frame is signed and verified.
    api::AccessKey key = api::GenerateKey();
    api::AccessStore access({key});
    RequestExecutorOptions xo;
    xo.access = &access;
    RequestExecutor executor(engine.value().get(), xo);
    NodeServerOptions so;
    so.workers = 16;
    NodeServer server(&executor, so);
    if (!server.Start().ok()) return 1;
    Credentials credentials{key.access_key_id, key.secret_access_key};
    api::HttpServerOptions ho;
    ho.worker_threads = 16;
    api::HttpServer http_server(&executor, ho);
    if (!http_server.Start().ok()) return 1;
    std::string http_address = http_server.endpoint().substr(std::string("http://").size());
    std::string http_host = http_address.substr(0, http_address.rfind(':'));
    auto http_port = static_cast<unsigned short>(std::stoi(http_address.substr(http_address.rfind(':') + 1)));
    Client admin(ClientOptions{server.endpoint(), std::chrono::milliseconds(10000), credentials});
    CreateTableRequest create{"bench", {{"pk", KeyType::kHash}}, {{"pk", AttributeType::kS}},
                              BillingMode::kPayPerRequest, std::nullopt};
    if (!admin.CreateTable(create).ok()) return 1;
    // Preload so that reads hit.
    for (int i = 0; i < cfg.items; i += 25) {
      BatchWriteItemRequest b;
      for (int j = i; j < std::min(cfg.items, i + 25); ++j) b.request_items["bench"].push_back({MakeItem(j, cfg.value_bytes), std::nullopt});
      if (!admin.BatchWriteItem(b).ok()) return 1;
    }
    for (int threads : cfg.threads) {
      std::vector<Client> clients;
      for (int t = 0; t < threads; ++t) clients.emplace_back(ClientOptions{server.endpoint(), std::chrono::milliseconds(10000), credentials});
      rows.push_back(Measure("native PutItem (fsync)", threads, cfg.seconds, [&](int t, std::mt19937_64& rng) {
        PutItemRequest put{"bench", MakeItem(static_cast<int>(rng() % cfg.items), cfg.value_bytes)};
        return clients[t].PutItem(put).ok();
      }));
      rows.push_back(Measure("native GetItem", threads, cfg.seconds, [&](int t, std::mt19937_64& rng) {
        GetItemRequest get{"bench", {{"pk", AttributeValue::S("key-" + std::to_string(rng() % cfg.items))}}};
        auto r = clients[t].GetItem(get);
        return r.ok() && r->item.has_value();
      }));
    }
    for (int threads : cfg.threads) {
      std::vector<std::unique_ptr<HttpClient>> clients;
      for (int t = 0; t < threads; ++t) clients.push_back(std::make_unique<HttpClient>(http_host, http_port, key));
      std::string value(cfg.value_bytes, 'h');
      rows.push_back(Measure("HTTP PutItem (SigV4, fsync)", threads, cfg.seconds, [&](int t, std::mt19937_64& rng) {
        std::string body = R"({"TableName":"bench","Item":{"pk":{"S":"key-)" + std::to_string(rng() % cfg.items) +
                           R"("},"v":{"S":")" + value + R"("}}})";
        return clients[t]->Call("PutItem", body).has_value();
      }));
      rows.push_back(Measure("HTTP GetItem (SigV4)", threads, cfg.seconds, [&](int t, std::mt19937_64& rng) {
        std::string body = R"({"TableName":"bench","Key":{"pk":{"S":"key-)" + std::to_string(rng() % cfg.items) + R"("}}})";
        auto r = clients[t]->Call("GetItem", body);
        return r.has_value() && r->find("\"Item\"") != std::string::npos;
      }));
    }
    http_server.Stop();
    server.Stop();
  }
  {
    std::vector<std::string> keys, values;
    for (int i = 0; i < cfg.items; ++i) {
      keys.push_back("key-" + std::to_string(i));
      values.push_back(EncodeItem(MakeItem(i, cfg.value_bytes)));
    }
    for (Row& r : bench::MeasureRawRocksDb(root / "raw", keys, values, cfg.threads, cfg.seconds, true)) {
      rows.push_back(std::move(r));
    }
  }
  rows.push_back(bench::MeasureFsyncFloor(root, cfg.seconds / 2));
  rows.push_back(bench::MeasureZmqRoundTrip(cfg.seconds / 2));
  std::filesystem::remove_all(root);

  auto limit_for = [&](const Row& r) -> const Row* {
    bool put = r.name == "native PutItem (fsync)" || r.name == "HTTP PutItem (SigV4, fsync)";
    bool get = r.name == "native GetItem" || r.name == "HTTP GetItem (SigV4)";
    std::string want = put ? "raw RocksDB Put (sync)" : get ? "raw RocksDB Get" : "";
    for (const Row& l : rows)
      if (l.name == want && l.threads == r.threads) return &l;
    return nullptr;
  };
  bench::PrintRows(rows, [&](const Row& r) {
    const Row* limit = limit_for(r);
    return limit ? std::to_string(r.ops_per_sec / limit->ops_per_sec).substr(0, 5) + "x of " + limit->name : "";
  });
  nlohmann::json out = nlohmann::json::array();
  for (const Row& r : rows) out.push_back(bench::RowJson(r));
  if (!cfg.json_path.empty()) std::ofstream(cfg.json_path) << out.dump(2) << "\n";
  for (const Row& r : rows)
    if (r.errors) return 1;
  return 0;
}

}  // namespace
}  // namespace meridian

int main(int argc, char** argv) {
  meridian::Config cfg;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--seconds") cfg.seconds = std::stod(v);
    else if (k == "--items") cfg.items = std::stoi(v);
    else if (k == "--value-bytes") cfg.value_bytes = std::stoi(v);
    else if (k == "--dir") cfg.dir = v;
    else if (k == "--json") cfg.json_path = v;
    else if (k == "--threads") {
      auto list = meridian::bench::ParseIntList(v);
      if (!list) {
        std::fprintf(stderr, "--threads takes positive integers separated by commas\n");
        return 2;
      }
      cfg.threads = *list;
    } else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  return meridian::Run(cfg);
}
