/*
 * kafka_ping.c: health of a Kafka server, without blocking the caller.
 *
 * librdkafka has no non-blocking metadata call, so the ping runs one
 * (bounded by timeout_ms) in a detached thread that only mallocs, and
 * reports through a pipe whose read end is the ping's fd.  The job is
 * freed by whichever of the thread and the caller lets go of it last, so
 * a ping abandoned at the deadline never frees memory the thread uses.
 * Kafka does not tell its release over the protocol: version is the number
 * of brokers the cluster announces.
 */
#include "postgres.h"

#include <pthread.h>
#include <unistd.h>

#include "kafka_internal.h"

typedef struct PingJob
{
	int			pipefd[2];
	int			refs;			/* 2 while both the thread and the caller hold it */
	pthread_mutex_t lock;
	int			nprops;
	char	  **props;			/* malloc'd copies */
	int			timeout_ms;
	bool		ok;
	char		message[256];	/* version when ok, else the error */
} PingJob;

static void
job_release(PingJob *job)
{
	int			left;

	pthread_mutex_lock(&job->lock);
	left = --job->refs;
	pthread_mutex_unlock(&job->lock);
	if (left > 0)
		return;
	for (int i = 0; i < job->nprops; i++)
		free(job->props[i]);
	free(job->props);
	close(job->pipefd[0]);
	close(job->pipefd[1]);
	pthread_mutex_destroy(&job->lock);
	free(job);
}

/* The thread: a metadata request with the server's properties. */
static void *
ping_thread(void *arg)
{
	PingJob    *job = arg;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk = NULL;
	char		errstr[256] = "";
	bool		conf_ok = true;

	for (int i = 0; i < job->nprops; i += 2)
		if (rd_kafka_conf_set(conf, job->props[i], job->props[i + 1], errstr,
							  sizeof(errstr)) != RD_KAFKA_CONF_OK)
		{
			snprintf(job->message, sizeof(job->message), "librdkafka refused property \"%s\"",
					 job->props[i]);
			conf_ok = false;
			break;
		}
	if (conf_ok)
		rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (rk == NULL)
	{
		if (conf_ok)
			snprintf(job->message, sizeof(job->message), "%s", errstr);
		rd_kafka_conf_destroy(conf);
	}
	else
	{
		const struct rd_kafka_metadata *md = NULL;
		rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, NULL, &md, job->timeout_ms);

		if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			job->ok = true;
			snprintf(job->message, sizeof(job->message), "Kafka, %d broker%s",
					 md->broker_cnt, md->broker_cnt == 1 ? "" : "s");
			rd_kafka_metadata_destroy(md);
		}
		else
			snprintf(job->message, sizeof(job->message), "%s", rd_kafka_err2str(err));
		rd_kafka_destroy(rk);
	}
	if (write(job->pipefd[1], "x", 1) != 1)
		job->ok = false;
	job_release(job);
	return NULL;
}

void
kafka_ping_start(MeshPing *ping)
{
	KafkaConn  *kc = kafka_conn_from_config(ping->config);
	PingJob    *job = calloc(1, sizeof(PingJob));
	pthread_t	thread;
	pthread_attr_t attr;

	if (job == NULL || pipe(job->pipefd) != 0)
	{
		free(job);
		kafka_conn_free(kc);
		ping->done = true;
		ping->error = pstrdup("could not start a ping (out of memory or file descriptors)");
		return;
	}
	pthread_mutex_init(&job->lock, NULL);
	job->refs = 2;
	job->timeout_ms = kc->timeout_ms;
	job->nprops = kc->nprops;
	job->props = calloc(kc->nprops + 1, sizeof(char *));
	for (int i = 0; job->props && i < kc->nprops; i++)
		job->props[i] = strdup(kc->props[i]);
	kafka_conn_free(kc);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&thread, &attr, ping_thread, job) != 0)
	{
		pthread_attr_destroy(&attr);
		job->refs = 1;
		job_release(job);
		ping->done = true;
		ping->error = pstrdup("could not start a ping thread");
		return;
	}
	pthread_attr_destroy(&attr);
	ping->state = job;
	ping->fd = job->pipefd[0];
	ping->want_write = false;
}

/* The thread wrote its byte: take its answer. */
void
kafka_ping_continue(MeshPing *ping)
{
	PingJob    *job = ping->state;
	char		c;

	if (job == NULL || read(job->pipefd[0], &c, 1) != 1)
		return;
	ping->ok = job->ok;
	if (job->ok)
		ping->version = pstrdup(job->message);
	else
		ping->error = pstrdup(job->message);
	ping->done = true;
}

void
kafka_ping_finish(MeshPing *ping)
{
	if (ping->state)
		job_release(ping->state);
	ping->state = NULL;
	ping->fd = -1;
}
