// Tests of the history engine's bounded LRU cache: capacity, recency,
// entries in use kept, and a slow miss never installing a stale value.
#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "kairos/history/bounded_cache.h"

using kairos::history::BoundedCache;

TEST_CASE("BoundedCache: keeps at most its capacity, least recently used out first", "[bounded_cache]") {
  BoundedCache<int> c(3);
  c.Put("a", 1);
  c.Put("b", 2);
  c.Put("c", 3);
  CHECK(c.Get("a") == 1);  // "b" is now the least recently used.
  c.Put("d", 4);
  CHECK(c.size() == 3);
  CHECK_FALSE(c.Get("b"));
  CHECK(c.Get("a") == 1);
  CHECK(c.Get("c") == 3);
  CHECK(c.Get("d") == 4);
  CHECK(c.evictions() == 1);
  c.Put("a", 10);  // Replacing is not growing.
  CHECK(c.size() == 3);
  CHECK(c.Get("a") == 10);
  c.Erase("a");
  CHECK_FALSE(c.Get("a"));
  CHECK(c.size() == 2);
}

TEST_CASE("BoundedCache: entries in use are not evicted", "[bounded_cache]") {
  using Ptr = std::shared_ptr<int>;
  BoundedCache<Ptr> c(2, [](const Ptr& p) { return p.use_count() > 1; });
  Ptr held = std::make_shared<int>(1);
  c.Put("held", held);  // A caller works on this one.
  c.Put("b", std::make_shared<int>(2));
  c.Put("c", std::make_shared<int>(3));
  c.Put("d", std::make_shared<int>(4));
  CHECK(c.size() == 2);
  REQUIRE(c.Get("held"));
  CHECK(**c.Get("held") == 1);
  CHECK(c.Get("d"));
  held.reset();  // Released: an ordinary entry again.
  c.Put("e", std::make_shared<int>(5));
  c.Put("f", std::make_shared<int>(6));
  CHECK_FALSE(c.Get("held"));
}

TEST_CASE("BoundedCache: may exceed its capacity while everything is in use", "[bounded_cache]") {
  using Ptr = std::shared_ptr<int>;
  BoundedCache<Ptr> c(1, [](const Ptr& p) { return p.use_count() > 1; });
  Ptr a = std::make_shared<int>(1), b = std::make_shared<int>(2);
  c.Put("a", a);
  c.Put("b", b);
  CHECK(c.size() == 2);
  a.reset();
  c.Put("c", std::make_shared<int>(3));  // "a" goes; "b" is still held.
  CHECK_FALSE(c.Get("a"));
  CHECK(c.Get("b"));
}

TEST_CASE("BoundedCache: a miss fills only if nothing was committed meanwhile", "[bounded_cache]") {
  BoundedCache<int> c(10);
  SECTION("quiet key: the value read is cached") {
    uint64_t t = c.Ticket("k");
    c.Fill("k", 1, t);
    CHECK(c.Get("k") == 1);
  }
  SECTION("a commit between the read and the fill wins") {
    uint64_t t = c.Ticket("k");  // Reader misses, reads version 1 from the store...
    c.Put("k", 2);               // ...a writer commits version 2...
    c.Fill("k", 1, t);           // ...the reader's stale version is not installed.
    CHECK(c.Get("k") == 2);
  }
  SECTION("also when the committed value was evicted or erased since") {
    uint64_t t = c.Ticket("k");
    c.Put("k", 2);
    c.Erase("k");
    c.Fill("k", 1, t);
    CHECK_FALSE(c.Get("k"));
  }
  SECTION("a fill never replaces a cached value") {
    uint64_t t = c.Ticket("k");
    c.Put("k", 2);
    uint64_t later = c.Ticket("k");
    c.Fill("k", 1, later);
    CHECK(c.Get("k") == 2);
    (void)t;
  }
}
