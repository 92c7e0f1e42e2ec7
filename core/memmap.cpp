#include "core/memmap.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <new>

namespace memd {

template <typename T>
LazyArray<T>::LazyArray(size_t n) : n_(n) {
  if (n == 0) return;
  void* p = mmap(nullptr, n * sizeof(T), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  data_ = static_cast<T*>(p);
}

template <typename T>
LazyArray<T>::~LazyArray() {
  if (data_) munmap(data_, n_ * sizeof(T));
}

template <typename T>
void LazyArray<T>::copy_from(const LazyArray& other) {
  if (this == &other) return;
  // A new mapping is known to be zero: compare the source with zeros
  // instead of reading (and so faulting in) the new pages.
  const bool fresh = n_ != other.n_;
  if (fresh) *this = LazyArray(other.n_);
  constexpr size_t kChunk = 4096;
  static const unsigned char kZero[kChunk] = {};
  const size_t bytes = n_ * sizeof(T);
  auto* to = reinterpret_cast<unsigned char*>(data_);
  const auto* from = reinterpret_cast<const unsigned char*>(other.data_);
  for (size_t at = 0; at < bytes; at += kChunk) {
    const size_t len = std::min(kChunk, bytes - at);
    const unsigned char* now = fresh ? kZero : to + at;
    if (std::memcmp(now, from + at, len) != 0) std::memcpy(to + at, from + at, len);
  }
}

template class LazyArray<Frame>;

FrameTable::FrameTable(Pfn end) : nr_blocks_((end + kMaxOrderNrPages - 1) >> kMaxPageOrder) {
  frames_ = LazyArray<Frame>(nr_blocks_ * kMaxOrderNrPages);
}

void FrameTable::push_front(PageList* list, Pfn pfn) {
  Frame& f = (*this)[pfn];
  f.prev = kNilPfn;
  f.next = list->head;
  if (list->head != kNilPfn) {
    (*this)[list->head].prev = static_cast<uint32_t>(pfn);
  } else {
    list->tail = static_cast<uint32_t>(pfn);
  }
  list->head = static_cast<uint32_t>(pfn);
}

void FrameTable::push_back(PageList* list, Pfn pfn) {
  Frame& f = (*this)[pfn];
  f.next = kNilPfn;
  f.prev = list->tail;
  if (list->tail != kNilPfn) {
    (*this)[list->tail].next = static_cast<uint32_t>(pfn);
  } else {
    list->head = static_cast<uint32_t>(pfn);
  }
  list->tail = static_cast<uint32_t>(pfn);
}

void FrameTable::remove(PageList* list, Pfn pfn) {
  Frame& f = (*this)[pfn];
  if (f.prev != kNilPfn) {
    (*this)[f.prev].next = f.next;
  } else {
    list->head = f.next;
  }
  if (f.next != kNilPfn) {
    (*this)[f.next].prev = f.prev;
  } else {
    list->tail = f.prev;
  }
  f.next = f.prev = 0;
}

Pfn FrameTable::pop_front(PageList* list) {
  Pfn pfn = list->head;
  remove(list, pfn);
  return pfn;
}

}  // namespace memd
