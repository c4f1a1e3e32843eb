#include "bench/closed_loop.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>
#include <rocksdb/db.h>
#include <zmq.hpp>

namespace meridian::bench {

Row Summarize(const std::string& name, int threads, double elapsed_seconds,
              std::vector<std::vector<uint32_t>>& latencies, uint64_t errors) {
  std::vector<uint32_t> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  Row row;
  row.name = name;
  row.threads = threads;
  row.ops = all.size();
  row.errors = errors;
  row.ops_per_sec = elapsed_seconds > 0 ? all.size() / elapsed_seconds : 0;
  auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))] / 10.0;
  };
  row.p50_us = pct(0.50);
  row.p99_us = pct(0.99);
  row.max_us = all.empty() ? 0 : all.back() / 10.0;
  return row;
}

nlohmann::json RowJson(const Row& r) {
  return {{"name", r.name}, {"threads", r.threads}, {"ops", r.ops}, {"errors", r.errors},
          {"ops_per_sec", r.ops_per_sec}, {"p50_us", r.p50_us}, {"p99_us", r.p99_us}, {"max_us", r.max_us}};
}

void PrintRows(const std::vector<Row>& rows, const std::function<std::string(const Row&)>& note) {
  std::printf("\n%-40s %7s %12s %10s %10s %10s %8s  %s\n", "operation", "threads", "ops/s", "p50 us",
              "p99 us", "max us", "errors", note ? "throughput vs limit" : "");
  for (const Row& r : rows) {
    std::string extra = note ? note(r) : "";
    std::printf("%-40s %7d %12.0f %10.1f %10.1f %10.1f %8llu  %s\n", r.name.c_str(), r.threads, r.ops_per_sec,
                r.p50_us, r.p99_us, r.max_us, static_cast<unsigned long long>(r.errors), extra.c_str());
  }
  std::fflush(stdout);
}

std::optional<std::vector<int>> ParseIntList(const std::string& text) {
  std::vector<int> out;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) {
    if (part.empty() || part.size() > 6 || !std::all_of(part.begin(), part.end(), ::isdigit)) return std::nullopt;
    int v = std::stoi(part);
    if (v <= 0) return std::nullopt;
    out.push_back(v);
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::vector<Row> MeasureRawRocksDb(const std::filesystem::path& path, const std::vector<std::string>& keys,
                                   const std::vector<std::string>& values, const std::vector<int>& threads,
                                   double seconds, bool with_gets) {
  std::vector<Row> rows;
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status st = rocksdb::DB::Open(o, path.string(), &raw);
  if (!st.ok()) {
    std::fprintf(stderr, "raw RocksDB open %s: %s\n", path.c_str(), st.ToString().c_str());
    return rows;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions sync_write;
  sync_write.sync = true;
  for (size_t i = 0; i < keys.size(); ++i) (void)db->Put(rocksdb::WriteOptions(), keys[i], values[i]);
  for (int n : threads) {
    rows.push_back(Measure("raw RocksDB Put (sync)", n, seconds, [&](int, std::mt19937_64& rng) {
      size_t i = rng() % keys.size();
      return db->Put(sync_write, keys[i], values[i]).ok();
    }));
    if (!with_gets) continue;
    rows.push_back(Measure("raw RocksDB Get", n, seconds, [&](int, std::mt19937_64& rng) {
      std::string v;
      return db->Get(rocksdb::ReadOptions(), keys[rng() % keys.size()], &v).ok();
    }));
  }
  return rows;
}

Row MeasureFsyncFloor(const std::filesystem::path& folder, double seconds) {
  std::filesystem::path probe = folder / "fsync.probe";
  int fd = ::open(probe.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  Row row = Measure("fsync floor (4 KB write + fdatasync)", 1, seconds, [&](int, std::mt19937_64&) {
    char block[4096] = {};
    return fd >= 0 && ::pwrite(fd, block, sizeof block, 0) == static_cast<ssize_t>(sizeof block) && ::fdatasync(fd) == 0;
  });
  if (fd >= 0) ::close(fd);
  std::error_code ec;
  std::filesystem::remove(probe, ec);
  return row;
}

Row MeasureZmqRoundTrip(double seconds) {
  zmq::context_t ctx(1);
  zmq::socket_t router(ctx, zmq::socket_type::router), dealer(ctx, zmq::socket_type::dealer);
  router.set(zmq::sockopt::linger, 0);
  dealer.set(zmq::sockopt::linger, 0);
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
  Row row = Measure("ZeroMQ loopback round trip", 1, seconds, [&](int, std::mt19937_64&) {
    dealer.send(zmq::buffer(msg), zmq::send_flags::none);
    zmq::message_t r;
    return dealer.recv(r).has_value();
  });
  done = true;
  echo.join();
  return row;
}

namespace {

std::string ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

Machine DescribeMachine(const std::filesystem::path& folder) {
  Machine m;
  m.cpus = static_cast<int>(std::thread::hardware_concurrency());
  {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("model name", 0) == 0) {
        m.cpu_model = line.substr(line.find(':') + 2);
        break;
      }
    }
  }
  {
    std::ifstream in("/proc/meminfo");
    std::string key;
    uint64_t kb = 0;
    if (in >> key >> kb && key == "MemTotal:") m.memory_mib = kb / 1024;
  }
  // The mount holding the folder: the longest mount point that prefixes its canonical path.
  std::error_code ec;
  std::string path = std::filesystem::canonical(folder, ec).string();
  std::ifstream mounts("/proc/self/mounts");
  std::string device, point, fstype, rest, best_device, best_fstype;
  size_t best = 0;
  while (mounts >> device >> point >> fstype && std::getline(mounts, rest)) {
    bool prefix = path == point || (path.rfind(point, 0) == 0 && (point == "/" || path[point.size()] == '/'));
    if (prefix && point.size() >= best) {
      best = point.size();
      best_device = device;
      best_fstype = fstype;
    }
  }
  m.disk = best_device + " (" + best_fstype + ")";
  struct stat st{};
  if (::stat(folder.c_str(), &st) == 0) {
    std::string sys = "/sys/dev/block/" + std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
    std::string rotational = ReadFirstLine(sys + "/queue/rotational");
    if (rotational.empty()) rotational = ReadFirstLine(sys + "/../queue/rotational");  // a partition
    if (rotational == "0") m.disk += ", non-rotational";
    if (rotational == "1") m.disk += ", rotational";
  }
  return m;
}

std::string MachineLine(const Machine& m) {
  return std::to_string(m.cpus) + " CPUs (" + m.cpu_model + "), " + std::to_string(m.memory_mib) +
         " MiB memory, disk " + m.disk;
}

std::string LoadAverage() {
  std::istringstream in(ReadFirstLine("/proc/loadavg"));
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

nlohmann::json MachineJson(const Machine& m) {
  return {{"cpus", m.cpus}, {"cpu_model", m.cpu_model}, {"memory_mib", m.memory_mib}, {"disk", m.disk}};
}

KeepAliveHttpClient::KeepAliveHttpClient(std::string host, unsigned short port)
    : host_(std::move(host)), port_(port) {}

KeepAliveHttpClient::~KeepAliveHttpClient() = default;

bool KeepAliveHttpClient::Connect(std::chrono::milliseconds timeout) {
  stream_.emplace(ioc_);
  buffer_.clear();
  boost::system::error_code result = boost::asio::error::would_block;
  boost::system::error_code bad_address;
  auto address = boost::asio::ip::make_address(host_, bad_address);
  if (bad_address) return false;
  stream_->expires_after(timeout);
  stream_->async_connect(boost::asio::ip::tcp::endpoint(address, port_),
                         [&](boost::system::error_code ec) { result = ec; });
  ioc_.restart();
  ioc_.run();
  if (result) {
    stream_.reset();
    return false;
  }
  stream_->socket().set_option(boost::asio::ip::tcp::no_delay(true));
  return true;
}

std::optional<KeepAliveHttpClient::Reply> KeepAliveHttpClient::Post(
    const std::string& target, const std::map<std::string, std::string>& headers, const std::string& body,
    std::chrono::milliseconds timeout) {
  namespace http = boost::beast::http;
  auto deadline = Clock::now() + timeout;
  if (!stream_ && !Connect(timeout)) return std::nullopt;
  http::request<http::string_body> req(http::verb::post, target, 11);
  req.set(http::field::host, host_ + ":" + std::to_string(port_));
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.keep_alive(true);
  req.prepare_payload();
  http::response<http::string_body> res;
  boost::system::error_code result;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  stream_->expires_after(std::max(left, std::chrono::milliseconds(1)));
  // Asynchronous operations run to completion here: the only way Beast offers a deadline.
  http::async_write(*stream_, req, [&](boost::system::error_code ec, size_t) {
    if (ec) {
      result = ec;
      return;
    }
    http::async_read(*stream_, buffer_, res, [&](boost::system::error_code ec2, size_t) { result = ec2; });
  });
  ioc_.restart();
  ioc_.run();
  if (result) {
    stream_.reset();
    return std::nullopt;
  }
  if (!res.keep_alive()) stream_.reset();
  return Reply{static_cast<int>(res.result_int()), std::move(res.body())};
}

}  // namespace meridian::bench
