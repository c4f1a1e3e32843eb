// Single-node benchmark: PutItem and GetItem against one node (Engine + NodeServer + HttpServer
// on 127.0.0.1, fsync per acknowledged write) through the native ZeroMQ path (the C++ client
// library, signed frames) and through DynamoDB's HTTP API (keep-alive connections, every request
// signed with SigV4 and verified), beside the limits measured in the same run: raw RocksDB Put
// (sync=true) and Get of the same encoded items, the fsync floor of the data folder's disk, and a
// ZeroMQ DEALER/ROUTER loopback round trip.
//
//   build/bench/single_node_bench [--seconds 5] [--items 10000] [--value-bytes 1000]
//                                 [--threads 1,16] [--dir /tmp] [--json FILE]
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <rocksdb/db.h>
#include <zmq.hpp>

#include "meridian/client.h"
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "api/access.h"
#include "api/http_server.h"
#include "api/sigv4.h"
#include "region/node_server.h"
#include "storage/engine.h"
#include "storage/item_codec.h"

namespace meridian {
namespace {

using Clock = std::chrono::steady_clock;

struct Config {
  double seconds = 5;
  int items = 10000;
  int value_bytes = 1000;
  std::vector<int> threads = {1, 16};
  std::string dir = "/tmp";
  std::string json_path;
};

struct Row {
  std::string name;
  int threads = 1;
  uint64_t ops = 0;
  uint64_t errors = 0;
  double ops_per_sec = 0;
  double p50_us = 0, p99_us = 0, max_us = 0;
};

// Runs `op(thread, rng)` on `threads` threads for `seconds`; each call is one timed operation
// returning false on error.
template <typename Op>
Row Measure(const std::string& name, int threads, double seconds, Op op) {
  std::vector<std::vector<uint32_t>> latencies(threads);  // nanoseconds / 100, bounded below
  std::atomic<uint64_t> errors{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> pool;
  auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::mt19937_64 rng(1234 + t);
      auto& lat = latencies[t];
      lat.reserve(1 << 16);
      // Bounded: at most 50M samples per thread, far above any run here.
      while (!stop.load(std::memory_order_relaxed) && lat.size() < 50'000'000) {
        auto a = Clock::now();
        bool ok = op(t, rng);
        auto b = Clock::now();
        if (!ok) errors++;
        lat.push_back(static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count() / 100));
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<uint32_t> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  Row row;
  row.name = name;
  row.threads = threads;
  row.ops = all.size();
  row.errors = errors;
  row.ops_per_sec = all.size() / elapsed;
  auto pct = [&](double p) { return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))] / 10.0; };
  row.p50_us = pct(0.50);
  row.p99_us = pct(0.99);
  row.max_us = all.empty() ? 0 : all.back() / 10.0;
  return row;
}

// One keep-alive HTTP/1.1 connection that signs every request, as an SDK does.
class HttpClient {
 public:
  HttpClient(const std::string& host, unsigned short port, api::AccessKey key)
      : stream_(ioc_), host_(host + ":" + std::to_string(port)), key_(std::move(key)) {
    boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address(host), port);
    stream_.connect(ep);
    stream_.socket().set_option(boost::asio::ip::tcp::no_delay(true));
  }

  // Returns the response body, or nullopt on a transport error or a non-200 answer.
  std::optional<std::string> Call(const std::string& operation, const std::string& body) {
    namespace http = boost::beast::http;
    api::SignableRequest signable;
    signable.body = body;
    signable.headers = {{"Host", host_},
                        {"Content-Type", "application/x-amz-json-1.0"},
                        {"X-Amz-Target", "DynamoDB_20120810." + operation}};
    api::SignSigV4(&signable, key_.access_key_id, key_.secret_access_key, "us-east-1", "dynamodb",
                   std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count());
    http::request<http::string_body> req(http::verb::post, "/", 11);
    for (const auto& [k, v] : signable.headers) req.set(k, v);
    req.body() = body;
    req.keep_alive(true);
    req.prepare_payload();
    try {
      http::write(stream_, req);
      http::response<http::string_body> res;
      http::read(stream_, buffer_, res);
      if (res.result_int() != 200) return std::nullopt;
      return std::move(res.body());
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }

 private:
  boost::asio::io_context ioc_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
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
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    if (!rocksdb::DB::Open(o, (root / "raw").string(), &raw).ok()) return 1;
    std::unique_ptr<rocksdb::DB> db(raw);
    rocksdb::WriteOptions sync_write;
    sync_write.sync = true;
    std::vector<std::string> values;
    for (int i = 0; i < cfg.items; ++i) {
      values.push_back(EncodeItem(MakeItem(i, cfg.value_bytes)));
      db->Put(rocksdb::WriteOptions(), "key-" + std::to_string(i), values.back());
    }
    for (int threads : cfg.threads) {
      rows.push_back(Measure("raw RocksDB Put (sync)", threads, cfg.seconds, [&](int, std::mt19937_64& rng) {
        int i = static_cast<int>(rng() % cfg.items);
        return db->Put(sync_write, "key-" + std::to_string(i), values[i]).ok();
      }));
      rows.push_back(Measure("raw RocksDB Get", threads, cfg.seconds, [&](int, std::mt19937_64& rng) {
        std::string v;
        return db->Get(rocksdb::ReadOptions(), "key-" + std::to_string(rng() % cfg.items), &v).ok();
      }));
    }
  }
  {
    int fd = ::open((root / "fsync.probe").c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    rows.push_back(Measure("fsync floor (4 KB write + fdatasync)", 1, cfg.seconds / 2, [&](int, std::mt19937_64&) {
      char block[4096] = {};
      return ::pwrite(fd, block, sizeof block, 0) == static_cast<ssize_t>(sizeof block) && ::fdatasync(fd) == 0;
    }));
    ::close(fd);
  }
  {
    zmq::context_t ctx(1);
    zmq::socket_t router(ctx, zmq::socket_type::router), dealer(ctx, zmq::socket_type::dealer);
    router.bind("tcp://127.0.0.1:*");
    dealer.connect(router.get(zmq::sockopt::last_endpoint));
    std::atomic<bool> done{false};
    std::thread echo([&] {
      zmq::pollitem_t p[] = {{router.handle(), 0, ZMQ_POLLIN, 0}};
      while (!done) {
        zmq::poll(p, 1, std::chrono::milliseconds(100));
        if (!(p[0].revents & ZMQ_POLLIN)) continue;
        zmq::message_t id, body;
        (void)router.recv(id);
        (void)router.recv(body);
        router.send(id, zmq::send_flags::sndmore);
        router.send(body, zmq::send_flags::none);
      }
    });
    std::string msg(100, 'x');
    rows.push_back(Measure("ZeroMQ loopback round trip", 1, cfg.seconds / 2, [&](int, std::mt19937_64&) {
      dealer.send(zmq::buffer(msg), zmq::send_flags::none);
      zmq::message_t r;
      return dealer.recv(r).has_value();
    }));
    done = true;
    echo.join();
  }
  std::filesystem::remove_all(root);

  auto limit_for = [&](const Row& r) -> const Row* {
    bool put = r.name == "native PutItem (fsync)" || r.name == "HTTP PutItem (SigV4, fsync)";
    bool get = r.name == "native GetItem" || r.name == "HTTP GetItem (SigV4)";
    std::string want = put ? "raw RocksDB Put (sync)" : get ? "raw RocksDB Get" : "";
    for (const Row& l : rows)
      if (l.name == want && l.threads == r.threads) return &l;
    return nullptr;
  };
  std::printf("\n%-40s %7s %12s %10s %10s %10s %8s  %s\n", "operation", "threads", "ops/s", "p50 us",
              "p99 us", "max us", "errors", "throughput vs limit");
  nlohmann::json out = nlohmann::json::array();
  for (const Row& r : rows) {
    const Row* limit = limit_for(r);
    std::string ratio = limit ? std::to_string(r.ops_per_sec / limit->ops_per_sec).substr(0, 5) + "x of " + limit->name : "";
    std::printf("%-40s %7d %12.0f %10.1f %10.1f %10.1f %8llu  %s\n", r.name.c_str(), r.threads, r.ops_per_sec,
                r.p50_us, r.p99_us, r.max_us, static_cast<unsigned long long>(r.errors), ratio.c_str());
    out.push_back({{"name", r.name}, {"threads", r.threads}, {"ops", r.ops}, {"errors", r.errors},
                   {"ops_per_sec", r.ops_per_sec}, {"p50_us", r.p50_us}, {"p99_us", r.p99_us}, {"max_us", r.max_us}});
  }
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
      cfg.threads.clear();
      std::stringstream ss(v);
      std::string t;
      while (std::getline(ss, t, ',')) cfg.threads.push_back(std::stoi(t));
    } else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  return meridian::Run(cfg);
}
