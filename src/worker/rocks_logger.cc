/*
 * rocks_logger.cc: RocksDB's info log, written with plain stdio (see
 * rocks_logger.h for why).
 */
#include "worker/rocks_logger.h"

#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <sys/time.h>

#include <rocksdb/env.h>

namespace ledger_am {

namespace {

class StdioLogger : public rocksdb::Logger
{
public:
	explicit StdioLogger(FILE *f) : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL), f_(f) {}

	~StdioLogger() override
	{
		if (f_ != nullptr)
			fclose(f_);
	}

	using rocksdb::Logger::Logv;

	/* One line: a timestamp, the message. Write errors (disk full) are
	 * ignored: a log line is never worth failing the engine for. */
	__attribute__((format(printf, 2, 0))) void Logv(const char *format, va_list ap) override
	{
		struct timeval tv;
		struct tm	tm;
		char		stamp[32];

		gettimeofday(&tv, nullptr);
		localtime_r(&tv.tv_sec, &tm);
		snprintf(stamp, sizeof(stamp), "%04d/%02d/%02d-%02d:%02d:%02d.%06ld ",
				 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
				 tm.tm_sec, static_cast<long>(tv.tv_usec));
		flockfile(f_);
		fputs(stamp, f_);
		vfprintf(f_, format, ap);
		fputc('\n', f_);
		fflush(f_);
		clearerr(f_);
		funlockfile(f_);
	}

private:
	FILE	   *f_;
};

} // namespace

std::shared_ptr<rocksdb::Logger>
NewStdioLogger(const std::string &dir) noexcept
{
	try
	{
		std::string path = dir + "/LOG";

		(void) rename(path.c_str(), (path + ".old").c_str());
		FILE	   *f = fopen(path.c_str(), "a");

		if (f == nullptr)
			return nullptr;
		return std::make_shared<StdioLogger>(f);
	}
	catch (...)
	{
		return nullptr;
	}
}

} // namespace ledger_am
