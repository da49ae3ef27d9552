// pdm/services/resource.hpp - what a driver instance owns: its timers, queues, pollers, threads
// and statistics, each one node of an intrusive list in the instance.
//
// Every resource a driver acquires through its context is linked into its instance's
// resource_list as it is made, and unlinked when the driver destroys it by hand. When the
// instance goes (detached, or its construction failed), the chain manager releases what is
// still linked, newest first, so nothing an instance made can outlive it: no timer fires for a
// dead driver, no statistic points into freed memory. Saved-state units and host services join
// the same list.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pdm::detail {

/// \brief One thing an instance owns; release() frees it (and must not throw).
class owned_resource {
 public:
  owned_resource() = default;
  owned_resource(const owned_resource&) = delete;
  owned_resource& operator=(const owned_resource&) = delete;
  owned_resource(owned_resource&&) = delete;
  owned_resource& operator=(owned_resource&&) = delete;

  /// \brief Frees the resource and this node. The node is already unlinked when it is called.
  virtual void release() noexcept = 0;
  /// \brief True for a driver thread: those are stopped before the driver's destructor runs.
  [[nodiscard]] virtual bool is_thread() const noexcept { return false; }

 protected:
  ~owned_resource() = default;

 private:
  friend class resource_list;
  owned_resource* prev_ = nullptr;
  owned_resource* next_ = nullptr;
};

/// \brief An instance's resources, oldest first. Not thread-safe: used on the EMT.
class resource_list {
 public:
  resource_list() = default;
  resource_list(const resource_list&) = delete;
  resource_list& operator=(const resource_list&) = delete;
  resource_list(resource_list&&) = delete;
  resource_list& operator=(resource_list&&) = delete;
  ~resource_list() = default;  // the owner releases first (release_all)

  void push(owned_resource& r) noexcept {
    r.prev_ = last_;
    r.next_ = nullptr;
    if (last_ != nullptr) {
      last_->next_ = &r;
    } else {
      first_ = &r;
    }
    last_ = &r;
    ++size_;
  }
  void unlink(owned_resource& r) noexcept {
    if (r.prev_ != nullptr) {
      r.prev_->next_ = r.next_;
    } else {
      first_ = r.next_;
    }
    if (r.next_ != nullptr) {
      r.next_->prev_ = r.prev_;
    } else {
      last_ = r.prev_;
    }
    r.prev_ = r.next_ = nullptr;
    --size_;
  }
  [[nodiscard]] bool empty() const noexcept { return first_ == nullptr; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  /// \brief Calls `f(resource)` for each resource, oldest first (f must not change the list).
  template <class F>
  void for_each(F f) const {
    for (owned_resource* r = first_; r != nullptr; r = r->next_) f(*r);
  }

  /// \brief Releases the resources for which `pick(resource)` is true, newest first. A release
  /// may add resources (a destructor run by it, say): those are released too.
  template <class Pick>
  void release_if(Pick pick) noexcept {
    for (owned_resource* r = last_; r != nullptr;) {
      owned_resource* older = r->prev_;
      if (pick(*r)) {
        unlink(*r);
        r->release();
        r = last_;  // a release may have changed the list: start again from the newest
        continue;
      }
      r = older;
    }
  }
  /// \brief Releases everything, newest first.
  void release_all() noexcept {
    while (last_ != nullptr) {
      owned_resource* r = last_;
      unlink(*r);
      r->release();
    }
  }

 private:
  owned_resource* first_ = nullptr;
  owned_resource* last_ = nullptr;
  std::size_t size_ = 0;
};

// Slot and generation of a poller, thread or saved-state unit (timers have their own ids).
struct slot_id {
  std::uint32_t index = 0;
  std::uint32_t generation = 0;  // 0: never valid
};

// Records by slot with generations, so that a stale id finds nothing. Indexes are reused.
template <class Record>
class slot_table {
 public:
  // Adds `r`; may throw bad_alloc (then nothing changed).
  slot_id insert(Record* r) {
    if (free_.empty()) {
      slots_.push_back(slot{nullptr, 0});
      free_.reserve(slots_.size());
      free_.push_back(static_cast<std::uint32_t>(slots_.size() - 1));
    }
    const std::uint32_t index = free_.back();
    free_.pop_back();
    slot& s = slots_[index];
    s.record = r;
    if (++s.generation == 0) s.generation = 1;
    ++live_;
    return slot_id{index, s.generation};
  }
  [[nodiscard]] Record* find(slot_id id) const noexcept {
    if (id.index >= slots_.size()) return nullptr;
    const slot& s = slots_[id.index];
    return s.generation == id.generation ? s.record : nullptr;
  }
  // Forgets the record in `id`'s slot (its generation stays, so copies of the id go stale).
  void erase(slot_id id) noexcept {
    slot& s = slots_[id.index];
    s.record = nullptr;
    free_.push_back(id.index);  // reserved in insert(): never reallocates
    --live_;
  }
  [[nodiscard]] std::size_t capacity() const noexcept { return slots_.size(); }
  [[nodiscard]] std::size_t size() const noexcept { return live_; }
  // The record in slot `index` (null if free), for walks by index that tolerate changes.
  [[nodiscard]] Record* at(std::size_t index) const noexcept {
    return index < slots_.size() ? slots_[index].record : nullptr;
  }
  [[nodiscard]] slot_id id_at(std::size_t index) const noexcept {
    return slot_id{static_cast<std::uint32_t>(index), slots_[index].generation};
  }

 private:
  struct slot {
    Record* record;
    std::uint32_t generation;
  };
  std::vector<slot> slots_;
  std::vector<std::uint32_t> free_;
  std::size_t live_ = 0;
};

}  // namespace pdm::detail
