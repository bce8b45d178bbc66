/*
 * wal_files.cc: WAL files preallocated with their size (see wal_files.h).
 * Pure C++, like the engine.
 */
#include "worker/wal_files.h"

#include <memory>

#include <rocksdb/file_system.h>

namespace ledger_am {

namespace {

class WalPreallocatingFs final : public rocksdb::FileSystemWrapper
{
public:
	explicit WalPreallocatingFs(const std::shared_ptr<rocksdb::FileSystem> &base)
		: rocksdb::FileSystemWrapper(base)
	{
	}

	static const char *kClassName() { return "LedgerAmWalPreallocatingFs"; }
	const char *Name() const override { return kClassName(); }

	rocksdb::FileOptions OptimizeForLogWrite(const rocksdb::FileOptions &file_options,
											 const rocksdb::DBOptions &db_options) const override
	{
		rocksdb::FileOptions o = target()->OptimizeForLogWrite(file_options, db_options);

		o.fallocate_with_keep_size = false;
		return o;
	}
};

}							/* namespace */

rocksdb::Env *
WalPreallocatingEnv()
{
	static rocksdb::Env *env = rocksdb::NewCompositeEnv(
		std::make_shared<WalPreallocatingFs>(rocksdb::FileSystem::Default())).release();

	return env;
}

}							/* namespace ledger_am */
