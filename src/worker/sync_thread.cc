/*
 * sync_thread.cc: the storage worker's group-commit thread (see the header).
 */
#include "worker/sync_thread.h"

#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "worker/engine.h"

namespace ledger_am {

namespace {

std::mutex g_mu;
std::condition_variable g_cv;
std::vector<ChannelSlot *> g_queue;
bool g_stop = false;
bool g_lazy = false;			/* unsynced lazily answered commits */
std::chrono::steady_clock::time_point g_lazy_since;	/* the first of them */
std::thread *g_thread = nullptr;

/* Answer completes queued requests with the outcome of their sync. */
void
Answer(const std::vector<ChannelSlot *> &batch, const EngineStatus &st)
{
	for (ChannelSlot *slot : batch)
	{
		slot->data_len = 0;
		slot->status = static_cast<int32>(st.code);
		size_t		n = 0;

		for (; n + 1 < sizeof(slot->message) && st.message[n] != '\0'; n++)
			slot->message[n] = st.message[n];
		slot->message[n] = '\0';
		ChannelComplete(slot);
	}
}

/* Run is the thread: wait for requests, sync once, answer all. */
void
Run() noexcept
{
	std::vector<ChannelSlot *> batch;

	for (;;)
	{
		try
		{
			std::unique_lock<std::mutex> lock(g_mu);

			for (;;)
			{
				if (!g_queue.empty())
					break;
				if (g_stop)
					return;
				if (g_lazy)
				{
					auto deadline = g_lazy_since + std::chrono::milliseconds(kLazySyncMs);

					if (std::chrono::steady_clock::now() >= deadline)
						break;
					g_cv.wait_until(lock, deadline);
				}
				else
					g_cv.wait(lock);
			}
			/* A sync makes everything written so far durable, lazily
			 * answered commits included. */
			g_lazy = false;
			batch.swap(g_queue);
		}
		catch (...)
		{
			/* A mutex failure: nothing sensible to do but stop serving. */
			return;
		}
		Answer(batch, EngineSync());
		batch.clear();
	}
}

} // namespace

bool
SyncThreadStart() noexcept
{
	sigset_t	all;
	sigset_t	old;
	bool		ok = true;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	try
	{
		g_stop = false;
		g_thread = new std::thread(Run);
	}
	catch (...)
	{
		g_thread = nullptr;
		ok = false;
	}
	pthread_sigmask(SIG_SETMASK, &old, nullptr);
	return ok;
}

void
SyncThreadStop() noexcept
{
	if (g_thread == nullptr)
		return;
	try
	{
		{
			std::lock_guard<std::mutex> lock(g_mu);

			g_stop = true;
		}
		g_cv.notify_one();
		g_thread->join();
	}
	catch (...)
	{
		/* Exiting anyway: the process ends the thread with it. */
	}
	delete g_thread;
	g_thread = nullptr;
}

void
SyncThreadNoteLazy() noexcept
{
	try
	{
		{
			std::lock_guard<std::mutex> lock(g_mu);

			if (g_lazy)
				return;
			g_lazy = true;
			g_lazy_since = std::chrono::steady_clock::now();
		}
		g_cv.notify_one();
	}
	catch (...)
	{
		/* The next commit's sync covers it. */
	}
}

void
SyncThreadEnqueue(ChannelSlot *slot) noexcept
{
	try
	{
		{
			std::lock_guard<std::mutex> lock(g_mu);

			g_queue.push_back(slot);
		}
		g_cv.notify_one();
	}
	catch (...)
	{
		/* Out of memory queueing: sync here rather than lose the request. */
		std::vector<ChannelSlot *> one;
		EngineStatus st = EngineSync();

		slot->data_len = 0;
		slot->status = static_cast<int32>(st.code);
		slot->message[0] = '\0';
		ChannelComplete(slot);
	}
}

} // namespace ledger_am
