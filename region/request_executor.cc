#include "region/request_executor.h"

#include "proto/frame.h"

namespace meridian {

struct RequestExecutor::Entry {
  bool done = false;
  std::optional<Result<Response>> result;
  size_t bytes = 0;
};

RequestExecutor::RequestExecutor(Engine* engine, RequestExecutorOptions options)
    : engine_(engine), options_(std::move(options)) {
  if (!options_.now) options_.now = [] { return std::chrono::steady_clock::now(); };
}

RequestExecutor::~RequestExecutor() = default;

RequestExecutorStats RequestExecutor::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {executed_, denied_, replayed_, entries_.size()};
}

Result<Response> RequestExecutor::ExecuteOnce(const RequestContext& ctx, const Request& request) {
  try {
    return engine_->Execute(request);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("internal error: ") + e.what());
  }
}

void RequestExecutor::EvictLocked(std::chrono::steady_clock::time_point now) {
  while (!order_.empty() &&
         (entries_.size() > options_.request_id_max_entries || bytes_ > options_.request_id_max_bytes ||
          order_.front().time + options_.request_id_window < now)) {
    const Remembered& oldest = order_.front();
    auto it = entries_.find(oldest.key);
    if (it != entries_.end() && it->second == oldest.entry) {
      // One still executing stops eviction until it finishes; at most one per worker thread.
      if (!it->second->done) break;
      bytes_ -= it->second->bytes;
      entries_.erase(it);
    }
    order_.pop_front();
  }
}

Result<Response> RequestExecutor::Execute(const RequestContext& ctx, const Request& request) {
  Operation op = OperationOf(request);
  if (options_.access) {
    if (!ctx.principal) {
      return Status(ErrorCode::kMissingAuthenticationToken, "Request is missing Authentication Token");
    }
    Status st = options_.access->Authorize(*ctx.principal, OperationName(op), api::TablesOf(request),
                                           options_.region);
    if (!st.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      denied_++;
      return st;
    }
  }
  if (options_.backend) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      executed_++;
    }
    return options_.backend(ctx, request);
  }
  if (!IsWriteOperation(op) || ctx.request_id.empty()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      executed_++;
    }
    return ExecuteOnce(ctx, request);
  }

  // Scoped by principal and operation: see the header.
  std::string key = ctx.principal.value_or("") + '\n' + std::to_string(static_cast<int>(op)) + '\n' +
                    ctx.request_id;
  std::shared_ptr<Entry> entry;
  {
    std::unique_lock<std::mutex> lock(mu_);
    auto now = options_.now();
    EvictLocked(now);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      std::shared_ptr<Entry> first = it->second;
      bool finished = done_.wait_for(lock, options_.duplicate_wait, [&] { return first->done; });
      if (!finished) {
        return Status::Internal("a request with the same id is still executing; retry later");
      }
      if (first->result) {
        replayed_++;
        return *first->result;
      }
      // The first attempt failed internally and was forgotten: fall through and apply this one.
      if (entries_.count(key) && entries_[key] == first) entries_.erase(key);
    }
    entry = std::make_shared<Entry>();
    entries_[key] = entry;
    order_.push_back({now, key, entry});
    executed_++;
  }

  Result<Response> result = ExecuteOnce(ctx, request);

  {
    std::lock_guard<std::mutex> lock(mu_);
    entry->done = true;
    auto it = entries_.find(key);
    bool ours = it != entries_.end() && it->second == entry;
    if (result.ok() || result.status().code() != ErrorCode::kInternalServerError) {
      entry->result = result;
      entry->bytes = key.size() + 64 +
                     (result.ok() ? proto::EncodeResponse("", result.value()).size()
                                  : result.status().message().size());
      if (ours) bytes_ += entry->bytes;
    } else if (ours) {
      entries_.erase(it);  // its order_ record is skipped as stale when it reaches the front
    }
    EvictLocked(options_.now());
  }
  done_.notify_all();
  return result;
}

}  // namespace meridian
