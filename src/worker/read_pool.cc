/*
 * read_pool.cc: reads served by the storage worker's main loop and its
 * helper threads (see read_pool.h).
 */
#include "worker/read_pool.h"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace ledger_am {

namespace {

std::mutex g_mu;
std::condition_variable g_cv;
std::deque<ChannelSlot *> g_queue;
std::deque<ReadPoolLoan *> g_loans;	/* lent work, taken before reads */
std::condition_variable g_loan_done;
constexpr std::chrono::microseconds kLoanSpin{1000};
int g_idle = 0;					/* helpers waiting for work */
int g_waking = 0;				/* wake-ups sent and not yet taken */
bool g_stop = false;
std::vector<std::thread> g_threads;
ReadServeFn g_serve = nullptr;

/* Serve answers a queued read and hands it back to its backend. */
void
Serve(ChannelSlot *slot) noexcept
{
	g_serve(slot);
	ChannelComplete(slot);
}

/* Pop takes the oldest queued read; nullptr if none. Caller holds g_mu. */
ChannelSlot *
Pop()
{
	if (g_queue.empty())
		return nullptr;
	ChannelSlot *slot = g_queue.front();

	g_queue.pop_front();
	return slot;
}

/* RunLoan does lent work and tells its lender. */
void
RunLoan(ReadPoolLoan *loan) noexcept
{
	loan->work(loan->arg);
	try
	{
		std::lock_guard<std::mutex> lock(g_mu);

		__atomic_store_n(&loan->done, true, __ATOMIC_RELEASE);
	}
	catch (...)
	{
		/* The lender would wait forever without the flag: set it anyway. */
		__atomic_store_n(&loan->done, true, __ATOMIC_RELEASE);
	}
	g_loan_done.notify_all();
}

void
Run() noexcept
{
	for (;;)
	{
		ChannelSlot *slot = nullptr;
		ReadPoolLoan *loan = nullptr;

		try
		{
			std::unique_lock<std::mutex> lock(g_mu);

			g_idle++;
			while (g_queue.empty() && g_loans.empty() && !g_stop)
			{
				g_cv.wait(lock);
				/* One wake-up taken; if the main loop served the read it was
				 * for, this helper waits again. */
				if (g_waking > 0)
					g_waking--;
			}
			g_idle--;
			if (!g_loans.empty())
			{
				loan = g_loans.front();
				g_loans.pop_front();
			}
			else
			{
				slot = Pop();
				if (slot == nullptr)
					return;		/* stopping, nothing left */
			}
		}
		catch (...)
		{
			/* A mutex failure: stop helping; the main loop serves the rest. */
			return;
		}
		if (loan != nullptr)
			RunLoan(loan);
		else
			Serve(slot);
	}
}

} // namespace

int
ReadPoolStart(int helpers, ReadServeFn serve) noexcept
{
	sigset_t	all;
	sigset_t	old;

	g_serve = serve;
	g_stop = false;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (int i = 0; i < helpers; i++)
	{
		try
		{
			g_threads.emplace_back(Run);
		}
		catch (...)
		{
			break;				/* fewer helpers; the main loop covers the rest */
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, nullptr);
	return static_cast<int>(g_threads.size());
}

void
ReadPoolStop() noexcept
{
	try
	{
		{
			std::lock_guard<std::mutex> lock(g_mu);

			g_stop = true;
		}
		g_cv.notify_all();
		for (std::thread &t : g_threads)
			t.join();
	}
	catch (...)
	{
		/* Exiting anyway: the process ends the threads with it. */
	}
	g_threads.clear();
	/* Whatever no helper took is answered here. */
	if (g_serve != nullptr)
		while (ReadPoolServeOne())
			;
}

void
ReadPoolEnqueue(ChannelSlot *slot) noexcept
{
	try
	{
		std::lock_guard<std::mutex> lock(g_mu);

		g_queue.push_back(slot);
		return;
	}
	catch (...)
	{
	}
	/* Could not queue (out of memory): serve it now. */
	Serve(slot);
}

bool
ReadPoolServeOne() noexcept
{
	ChannelSlot *slot = nullptr;
	int			wake = 0;

	try
	{
		std::lock_guard<std::mutex> lock(g_mu);

		slot = Pop();
		if (slot == nullptr)
			return false;
		/* Every read left after this one gets a helper, if one is idle and
		 * not already being woken. */
		int			left = static_cast<int>(g_queue.size()) - g_waking;

		wake = std::max(0, std::min(left, g_idle - g_waking));
		g_waking += wake;
	}
	catch (...)
	{
		if (slot == nullptr)
			return false;
	}
	for (int i = 0; i < wake; i++)
		g_cv.notify_one();
	Serve(slot);
	return true;
}

bool
ReadPoolLend(ReadPoolLoan *loan) noexcept
{
	try
	{
		std::lock_guard<std::mutex> lock(g_mu);

		if (g_stop || g_idle - g_waking <= 0)
			return false;
		loan->done = false;
		g_loans.push_back(loan);
		g_waking++;
	}
	catch (...)
	{
		return false;
	}
	g_cv.notify_one();
	return true;
}

void
ReadPoolWaitLent(ReadPoolLoan *loan) noexcept
{
	/* The lent half takes about as long as the lender's own: spin up to
	 * kLoanSpin before sleeping (a wake-up costs 0.1-0.3 ms on 2 vCPUs). */
	auto		spin_end = std::chrono::steady_clock::now() + kLoanSpin;

	for (uint32_t spins = 1;; spins++)
	{
		if (__atomic_load_n(&loan->done, __ATOMIC_ACQUIRE))
			return;
		__builtin_ia32_pause();
		if ((spins & 63) == 0 && std::chrono::steady_clock::now() >= spin_end)
			break;
	}
	try
	{
		std::unique_lock<std::mutex> lock(g_mu);

		g_loan_done.wait(lock, [loan] { return loan->done; });
	}
	catch (...)
	{
		/* No mutex: wait without it (done is set once, by one thread). */
		while (!__atomic_load_n(&loan->done, __ATOMIC_ACQUIRE))
			std::this_thread::yield();
	}
}

} // namespace ledger_am
