#include "xgrad/autograd/detail/parallel.hpp"

#include "xgrad/autograd/detail/denormal_scope.hpp"

#include <immintrin.h>
#include <x86intrin.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
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
  // Note [fork-join claims]: a fork is published, claimed and finished
  // through two cache lines: fork_claim_ holds the fork's epoch and its next
  // chunk index in one word, next to the function and the chunk count; the
  // workers report finished chunks in fork_done_. A worker claims a chunk
  // with a compare-exchange of the whole word, so a claim made from a stale
  // reading of an earlier fork fails instead of taking a chunk of the next
  // one; the caller therefore needs no count of the workers still looking,
  // and waits only for the chunks. Each move of a line between cores costs
  // about 0.1 us, and 1 us when the host puts the two virtual cores far
  // apart; a batch-1 recurrent step pays one fork-join per product.
  bool fork_join(std::size_t chunks, FunctionRef<void(std::size_t)> fn) {
    if (chunks >= kChunkMask) return false;
    if (fork_busy_.test_and_set(std::memory_order_acquire)) return false;
    const std::uint64_t epoch = (fork_claim_.load(std::memory_order_relaxed) >> 32) + 1;
    // No chunk is claimable while the function and count are replaced.
    fork_claim_.store(epoch << 32 | kChunkMask, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    fork_fn_.store(&fn, std::memory_order_relaxed);
    fork_chunks_.store(chunks, std::memory_order_relaxed);
    fork_done_.store(0, std::memory_order_relaxed);
    fork_claim_.store(epoch << 32, std::memory_order_release);
    if (sleeping_.load(std::memory_order_acquire)) cv_.notify_all();
    {
      const detail::DenormalScope denormals;  // Note [denormal scope]
      for (;;) {
        const std::uint64_t i = fork_claim_.fetch_add(1, std::memory_order_acq_rel) & kChunkMask;
        if (i >= chunks) break;
        fn(static_cast<std::size_t>(i));
        fork_done_.fetch_add(1, std::memory_order_acq_rel);
      }
    }
    // Spin, then yield: on a loaded machine the worker that claimed a chunk
    // may share this core and need it to finish.
    for (int spins = 0; fork_done_.load(std::memory_order_acquire) < chunks; ++spins) pause_or_yield(spins);
    fork_busy_.clear(std::memory_order_release);
    return true;
  }

 private:
  static constexpr std::uint64_t kChunkMask = 0xffffffffu;

  bool fork_claimable() const {
    const std::uint64_t claim = fork_claim_.load(std::memory_order_acquire);
    return (claim & kChunkMask) < fork_chunks_.load(std::memory_order_relaxed);
  }

  // A worker's part of a fork: claims and runs chunks while there are any.
  // Returns whether it found a fork with chunks left (ran one or lost them all).
  bool try_help_fork() {
    std::uint64_t claim = fork_claim_.load(std::memory_order_acquire);
    if ((claim & kChunkMask) >= fork_chunks_.load(std::memory_order_relaxed)) return false;
    const detail::DenormalScope denormals;  // Note [denormal scope]
    for (;;) {
      // Read for the epoch in `claim`; if the fork changed since, the
      // exchange below fails (the epoch differs) and they are read again.
      const FunctionRef<void(std::size_t)>* fn = fork_fn_.load(std::memory_order_acquire);
      const std::size_t chunks = fork_chunks_.load(std::memory_order_acquire);
      const std::uint64_t i = claim & kChunkMask;
      if (i >= chunks) return true;
      if (!fork_claim_.compare_exchange_weak(claim, claim + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
        continue;
      }
      (*fn)(static_cast<std::size_t>(i));
      fork_done_.fetch_add(1, std::memory_order_acq_rel);
      claim = fork_claim_.load(std::memory_order_acquire);
    }
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
      cv_.wait(lock, [&] { return stop_.load() || fork_claimable() || (index == 0 && !queue_.empty()); });
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
  // The fork-join slot (Note [fork-join claims]).
  std::atomic_flag fork_busy_ = ATOMIC_FLAG_INIT;
  alignas(64) std::atomic<std::uint64_t> fork_claim_{0};  // epoch << 32 | next chunk
  std::atomic<const FunctionRef<void(std::size_t)>*> fork_fn_{nullptr};
  std::atomic<std::size_t> fork_chunks_{0};
  alignas(64) std::atomic<std::size_t> fork_done_{0};
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

bool SplitChooser::split() {
  constexpr int kMeasure = kRun * kRuns;
  if (call_ <= kMeasure) {  // the clock is read only while measuring
    const std::uint64_t now = __rdtsc();
    // The period that ends now belongs to the previous call's choice; the
    // first call of a run pays the switch, so only the others are kept.
    if (call_ > 0 && (call_ - 1) % kRun != 0) {
      int& count = counts_[last_choice_];
      if (count < kRun * kRuns / 2) {
        samples_[last_choice_][count++] = static_cast<std::uint32_t>(std::min<std::uint64_t>(now - last_, UINT32_MAX));
      }
    }
    last_ = now;
  }
  if (call_ == kMeasure) {
    // Decide by the medians: a pause inflates a few periods, not the median.
    auto median = [](std::uint32_t* v, int n) {
      std::nth_element(v, v + n / 2, v + n);
      return v[n / 2];
    };
    if (counts_[0] > 0 && counts_[1] > 0) {
      keep_choice_ = median(samples_[1], counts_[1]) < median(samples_[0], counts_[0]);
    }
    counts_[0] = counts_[1] = 0;
  }
  bool choice;
  if (call_ < kMeasure) {
    choice = (call_ / kRun) % 2 == 0;  // split, serial, split, serial
  } else {
    choice = keep_choice_;
  }
  last_choice_ = choice;
  call_ = call_ + 1 == kMeasure + kKeep ? 0 : call_ + 1;
  return choice;
}

WorkAhead::WorkAhead(FunctionRef<void(WorkAhead&)> work) : work_(work) {
  if (is_worker || pool().workers() == 0) {
    run();
  } else {
    ticket_ = pool().submit([this] { run(); });
  }
}

WorkAhead::~WorkAhead() {
  cancelled_.store(true, std::memory_order_release);
  if (ticket_) pool().wait(ticket_);
}

void WorkAhead::run() noexcept {
  try {
    work_(*this);
  } catch (...) {
    error_ = std::current_exception();
  }
  finished_.store(true, std::memory_order_release);
}

void WorkAhead::wait_for(std::size_t n) {
  for (int spins = 0; published_.load(std::memory_order_acquire) < n; ++spins) {
    if (finished_.load(std::memory_order_acquire)) {
      if (published_.load(std::memory_order_acquire) >= n) break;
      if (error_) std::rethrow_exception(error_);
      throw std::logic_error("WorkAhead: the work ended before the items waited for");
    }
    pause_or_yield(spins);
  }
}
std::uint64_t last_submitted_by_this_thread() { return last_ticket; }

}  // namespace xgrad::parallel
