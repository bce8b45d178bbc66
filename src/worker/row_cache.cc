/*
 * row_cache.cc: see row_cache.h.
 */
#include "worker/row_cache.h"

#include <cstddef>
#include <cstring>
#include <new>

namespace ledger_am {

namespace {

/*
 * Key: a tag byte, the epoch, the table (tablespace, database, relation) and
 * the row id: 1 + 8 + 12 + 8 = 29 bytes. The block cache's keys for blocks
 * are 16 bytes in RocksDB 7.x, so the two kinds never compare equal.
 */
constexpr char kRowCacheTag = 'R';
constexpr size_t kCacheKeyLen = 1 + 8 + 12 + 8;

/* Per-entry bookkeeping the cache does not see in the charge: its handle
 * (~72 bytes plus the key) and the malloc header of the value. */
constexpr size_t kEntryOverhead = 96 + kCacheKeyLen;

void
EncodeCacheKey(char *dst, uint64_t epoch, const TableId &t, uint64_t row_id)
{
	dst[0] = kRowCacheTag;
	PutU64BE(dst + 1, epoch);
	PutU32BE(dst + 9, t.spc);
	PutU32BE(dst + 13, t.db);
	PutU32BE(dst + 17, t.rel);
	PutU64BE(dst + 21, row_id);
}

/* Values are a length-prefixed copy in one allocation. */
struct CachedRow
{
	size_t		len;
	char		data[1];
};

void
DeleteCachedRow(const rocksdb::Slice & /* key */, void *value)
{
	::operator delete(value);
}

} // namespace

rocksdb::Slice
RowCache::Pin::value() const
{
	const CachedRow *row = static_cast<const CachedRow *>(cache_->Value(handle_));
	return rocksdb::Slice(row->data, row->len);
}

void
RowCache::Pin::Release()
{
	if (handle_ != nullptr)
		cache_->Release(handle_);
	handle_ = nullptr;
	cache_ = nullptr;
}

bool
RowCache::Lookup(uint64_t epoch, const TableId &t, uint64_t row_id, Pin *pin) const
{
	pin->Release();
	if (!cache_)
		return false;
	char key[kCacheKeyLen];
	EncodeCacheKey(key, epoch, t, row_id);
	rocksdb::Cache::Handle *h = cache_->Lookup(rocksdb::Slice(key, sizeof(key)));
	if (h == nullptr)
		return false;
	pin->cache_ = cache_.get();
	pin->handle_ = h;
	return true;
}

void
RowCache::Insert(uint64_t epoch, const TableId &t, uint64_t row_id,
				 const rocksdb::Slice &value) const
{
	if (!cache_)
		return;
	void	   *mem = ::operator new(offsetof(CachedRow, data) + value.size(), std::nothrow);
	if (mem == nullptr)
		return;
	CachedRow  *row = static_cast<CachedRow *>(mem);
	row->len = value.size();
	std::memcpy(row->data, value.data(), value.size());
	char key[kCacheKeyLen];
	EncodeCacheKey(key, epoch, t, row_id);
	/* A full cache (strict capacity) or a duplicate insert frees the copy. */
	(void) cache_->Insert(rocksdb::Slice(key, sizeof(key)), row, value.size() + kEntryOverhead,
						  &DeleteCachedRow);
}

} // namespace ledger_am
