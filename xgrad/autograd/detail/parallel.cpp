#include "xgrad/autograd/detail/parallel.hpp"

#include "xgrad/autograd/detail/denormal_scope.hpp"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace xgrad::parallel {

namespace {

thread_local bool is_worker = false;
thread_local std::uint64_t last_ticket = 0;

// Spin this many pause instructions (~100 us) before a worker sleeps: a
// recurrent layer hands out work every few tens of microseconds, and a
// futex wake-up costs about as much as the work.
constexpr int kSpinIterations = 20000;

inline void pause_or_yield(int spins) {
  if (spins < 2000) {
    _mm_pause();
  } else {
    std::this_thread::yield();
  }
}

// A FIFO of jobs in a ring of slots that only grows: no allocation per job
// in steady state (a deque allocates a block every few jobs this size).
class JobRing {
 public:
  bool empty() const { return count_ == 0; }
  void push(InlineFunction job) {
    if (count_ == slots_.size()) grow();
    slots_[(head_ + count_) % slots_.size()] = std::move(job);
    ++count_;
  }
  InlineFunction pop() {
    InlineFunction job = std::move(slots_[head_]);
    head_ = (head_ + 1) % slots_.size();
    --count_;
    return job;
  }

 private:
  void grow() {
    std::vector<InlineFunction> bigger(std::max<std::size_t>(16, 2 * slots_.size()));
    for (std::size_t i = 0; i < count_; ++i) bigger[i] = std::move(slots_[(head_ + i) % slots_.size()]);
    slots_ = std::move(bigger);
    head_ = 0;
  }
  std::vector<InlineFunction> slots_;
  std::size_t head_ = 0, count_ = 0;
};

class Pool {
 public:
  ~Pool() { resize(0); }

  void resize(int workers) {
    if (workers == static_cast<int>(threads_.size())) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_.store(true);
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
    stop_.store(false);
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this, i] { run(i); });
    count_.store(workers, std::memory_order_release);
  }

  int workers() const { return count_.load(std::memory_order_acquire); }

  bool idle() const { return !busy_.load(std::memory_order_acquire) && queued_.load(std::memory_order_acquire) == 0; }

  std::uint64_t submit(InlineFunction job) {
    std::uint64_t ticket;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push(std::move(job));  // first: a failed push must not use up a ticket
      ticket = ++submitted_;
      queued_.fetch_add(1, std::memory_order_release);
    }
    if (sleeping_.load(std::memory_order_acquire)) cv_.notify_all();
    return ticket;
  }

  bool done(std::uint64_t ticket) const { return completed_.load(std::memory_order_acquire) >= ticket; }

  void wait(std::uint64_t ticket) {
    for (int spins = 0; !done(ticket); ++spins) pause_or_yield(spins);
  }

  // Returns false (and runs nothing) if another fork-join holds the slot.
  bool fork_join(std::size_t chunks, FunctionRef<void(std::size_t)> fn) {
    if (fork_busy_.test_and_set(std::memory_order_acquire)) return false;
    fork_fn_ = &fn;
    fork_chunks_ = chunks;
    fork_next_.store(0, std::memory_order_relaxed);
    fork_done_.store(0, std::memory_order_relaxed);
    fork_active_.store(true, std::memory_order_release);
    if (sleeping_.load(std::memory_order_acquire)) cv_.notify_all();
    help_fork();
    // Spin, then yield: on a loaded machine the worker that claimed a chunk
    // may share this core and need it to finish.
    for (int spins = 0; fork_done_.load(std::memory_order_acquire) < chunks; ++spins) pause_or_yield(spins);
    fork_active_.store(false, std::memory_order_release);
    // A worker that saw the fork active may still be about to claim a chunk
    // index (and find none): wait until it has let go before reuse.
    for (int spins = 0; fork_users_.load(std::memory_order_acquire) != 0; ++spins) pause_or_yield(spins);
    fork_busy_.clear(std::memory_order_release);
    return true;
  }

 private:
  void help_fork() {
    const detail::DenormalScope denormals;  // Note [denormal scope]
    for (;;) {
      const std::size_t i = fork_next_.fetch_add(1, std::memory_order_acq_rel);
      if (i >= fork_chunks_) return;
      (*fork_fn_)(i);
      fork_done_.fetch_add(1, std::memory_order_acq_rel);
    }
  }

  bool try_help_fork() {
    if (!fork_active_.load(std::memory_order_acquire)) return false;
    fork_users_.fetch_add(1, std::memory_order_acq_rel);
    if (fork_active_.load(std::memory_order_acquire)) help_fork();
    fork_users_.fetch_sub(1, std::memory_order_acq_rel);
    return true;
  }

  bool try_run_job(int index) {
    if (index != 0 || queued_.load(std::memory_order_acquire) == 0) return false;
    InlineFunction job;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (queue_.empty()) return false;
      job = queue_.pop();
      busy_.store(true, std::memory_order_release);
      queued_.fetch_sub(1, std::memory_order_release);
    }
    {
      const detail::DenormalScope denormals;  // Note [denormal scope]
      job();
    }
    job.reset();  // release its handles before a waiter resumes (use_count checks)
    busy_.store(false, std::memory_order_release);
    completed_.fetch_add(1, std::memory_order_acq_rel);
    return true;
  }

  void run(int index) {
    is_worker = true;
    for (;;) {
      bool worked = false;
      for (int spins = 0; spins < kSpinIterations; ++spins) {
        if (try_help_fork() | try_run_job(index)) {
          worked = true;
          break;
        }
        if (stop_flag()) return;
        _mm_pause();
      }
      if (worked) continue;
      std::unique_lock<std::mutex> lock(mutex_);
      sleeping_.fetch_add(1, std::memory_order_acq_rel);
      cv_.wait(lock, [&] {
        return stop_.load() || fork_active_.load(std::memory_order_acquire) || (index == 0 && !queue_.empty());
      });
      sleeping_.fetch_sub(1, std::memory_order_acq_rel);
      if (stop_.load() && (index != 0 || queue_.empty())) return;
    }
  }

  bool stop_flag() const {
    return stop_.load(std::memory_order_acquire) && queued_.load(std::memory_order_acquire) == 0;
  }

  std::vector<std::thread> threads_;
  std::atomic<int> count_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
  std::atomic<bool> stop_{false};  // written under mutex_
  std::atomic<int> sleeping_{0};
  // Asynchronous jobs (worker 0, FIFO).
  JobRing queue_;
  std::atomic<int> queued_{0};
  std::atomic<bool> busy_{false};
  std::uint64_t submitted_ = 0;  // guarded by mutex_
  std::atomic<std::uint64_t> completed_{0};
  // The fork-join slot.
  std::atomic_flag fork_busy_ = ATOMIC_FLAG_INIT;
  const FunctionRef<void(std::size_t)>* fork_fn_ = nullptr;
  std::size_t fork_chunks_ = 0;
  std::atomic<std::size_t> fork_next_{0}, fork_done_{0};
  std::atomic<bool> fork_active_{false};
  std::atomic<int> fork_users_{0};
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

void set_workers(int workers) { pool().resize(workers < 0 ? 0 : workers); }
int workers() { return pool().workers(); }
bool on_worker() { return is_worker; }
bool workers_idle() { return pool().workers() > 0 && pool().idle(); }

void for_each_piece(std::size_t pieces, std::size_t total_elements, FunctionRef<void(std::size_t)> fn) {
  const detail::DenormalScope denormals;  // Note [denormal scope]
  if (pieces > 1 && total_elements >= kMinParallelElements && workers_idle()) {
    parallel_for(pieces, fn);
  } else {
    for (std::size_t i = 0; i < pieces; ++i) fn(i);
  }
}

void parallel_for(std::size_t chunks, FunctionRef<void(std::size_t)> fn) {
  const detail::DenormalScope denormals;  // Note [denormal scope]
  if (chunks > 1 && !is_worker && pool().workers() > 0 && pool().fork_join(chunks, fn)) return;
  for (std::size_t i = 0; i < chunks; ++i) fn(i);
}

std::uint64_t submit(InlineFunction job) {
  if (is_worker || pool().workers() == 0) {
    job();
    return 0;
  }
  last_ticket = pool().submit(std::move(job));
  return last_ticket;
}

void wait(std::uint64_t ticket) {
  if (ticket) pool().wait(ticket);
}
bool done(std::uint64_t ticket) { return ticket == 0 || pool().done(ticket); }
std::uint64_t last_submitted_by_this_thread() { return last_ticket; }

}  // namespace xgrad::parallel
