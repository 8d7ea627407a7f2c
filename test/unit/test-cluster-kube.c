/*
 * test-cluster-kube: the scheduler role's PVC and StorageClass caches, kept by list + watch
 * against a fake API server (libmicrohttpd) that answers with the objects recorded from a real
 * kube-apiserver (test/fixtures/kube-apiserver-v1.20/): a lookup before the caches are synced
 * (one GET, which fills the cache), list then watch (ADDED, MODIFIED from the recorded watch
 * stream, DELETED, BOOKMARK moving the resourceVersion), 410 Gone and a re-list, a line that
 * is not an event (counted, listed again, no crash), and a miss for a PVC created a moment ago.
 * The fake holds each list and watch until the test lets it go, so every step is checked in a
 * known state.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "cluster/cluster-internal.h"
#include "cluster/cluster.h"
#include "config/config.h"
#include "support.h"
#include "util/log.h"

#define API_FIX	     "test/fixtures/kube-apiserver-v1.20/"
#define GI	     (1024ull * 1024 * 1024)
#define PVCS	     "/api/v1/persistentvolumeclaims"
#define SCS	     "/apis/storage.k8s.io/v1/storageclasses"
#define NS_PVCS	     "/api/v1/namespaces/default/persistentvolumeclaims/"
#define WAIT_STEP_US 5000

struct kfake {
	struct MHD_Daemon *d;
	uint16_t port;
	pthread_mutex_t mu;
	unsigned pvc_lists, pvc_watches, sc_lists, sc_watches;
	unsigned pvc_gets, sc_gets; /* direct GETs of one object */
	unsigned allow_lists;	    /* PVC list n is answered once allow_lists >= n */
	unsigned allow_watches;	    /* PVC watch n likewise */
	char watch_rv[8][32];	    /* resourceVersion asked by PVC watch n (1-based) */
	char bookmarks[16];	    /* allowWatchBookmarks of the first PVC watch */
	bool stopping;
	json_t *pvc_tmpl; /* get-pvc.json */
	json_t *pvc_1;	  /* get-pvc-redis-data-1.json */
	char *sc;	  /* get-storageclass.json */
	char *recorded;	  /* watch-pvcs.jsonl */
};

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, len = 0;

	assert_non_null(f);
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

/* The recorded PVC redis-data, renamed and resized: "a PVC like it". */
static char *pvc_named(struct kfake *f, const char *name, const char *size, const char *rv)
{
	json_t *o = json_deep_copy(f->pvc_tmpl);
	char *s;

	json_object_set_new(json_object_get(o, "metadata"), "name", json_string(name));
	json_object_set_new(json_object_get(o, "metadata"), "resourceVersion", json_string(rv));
	json_object_set_new(
		json_object_get(json_object_get(json_object_get(o, "spec"), "resources"),
				"requests"),
		"storage", json_string(size));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	assert_non_null(s);
	return s;
}

static char *dump(const json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);

	assert_non_null(s);
	return s;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *body)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static const char not_found[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
				"\"reason\":\"NotFound\",\"code\":404}";

/* Waits (the lock released) until *gate >= n or the test is ending. */
static void wait_gate(struct kfake *f, const unsigned *gate, unsigned n)
{
	while (*gate < n && !f->stopping) {
		pthread_mutex_unlock(&f->mu);
		usleep(WAIT_STEP_US);
		pthread_mutex_lock(&f->mu);
	}
}

static char *pvc_list(struct kfake *f, unsigned n)
{
	char *a = dump(f->pvc_tmpl), *b, *body = NULL;

	/* list 1: redis-data, redis-data-1; after the 410: redis-data, late-1 */
	b = n == 1 ? dump(f->pvc_1) : pvc_named(f, "late-1", "2Gi", "480");
	assert_true(asprintf(&body,
			     "{\"kind\":\"PersistentVolumeClaimList\",\"apiVersion\":\"v1\","
			     "\"metadata\":{\"resourceVersion\":\"%s\"},\"items\":[%s,%s]}",
			     n == 1   ? "300"
			     : n == 2 ? "500"
				      : "600",
			     a, b) > 0);
	free(a);
	free(b);
	return body;
}

static char *pvc_watch(struct kfake *f, unsigned n)
{
	char *body = NULL, *fresh, *gone;

	switch (n) {
	case 1:
		/* The recorded stream (redis-data annotated, then labelled), a new PVC, one
		 * deleted, a bookmark. */
		fresh = pvc_named(f, "fresh-1", "8Gi", "260");
		gone = dump(f->pvc_1);
		assert_true(asprintf(&body,
				     "%s{\"type\":\"ADDED\",\"object\":%s}\n"
				     "{\"type\":\"DELETED\",\"object\":%s}\n"
				     "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":"
				     "\"PersistentVolumeClaim\",\"apiVersion\":\"v1\",\"metadata\":"
				     "{\"resourceVersion\":\"400\"}}}\n",
				     f->recorded, fresh, gone) > 0);
		free(fresh);
		free(gone);
		return body;
	case 2:
		return strdup("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":"
			      "\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old "
			      "resource version: 400 (450)\",\"reason\":\"Expired\",\"code\":410}}"
			      "\n");
	case 3:
		fresh = pvc_named(f, "late-1", "3Gi", "510");
		assert_true(asprintf(&body,
				     "{\"type\":\"MODIFIED\",\"object\":%s}\n"
				     "this is not an event\n",
				     fresh) > 0);
		free(fresh);
		return body;
	default:
		return NULL; /* quiet */
	}
}

static enum MHD_Result kfake_handle(void *cls, struct MHD_Connection *conn, const char *url,
				    const char *method, const char *version, const char *upload,
				    size_t *upload_size, void **con_cls)
{
	struct kfake *f = cls;
	const char *watch = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "watch");
	char *body = NULL;
	enum MHD_Result r;
	unsigned n;
	(void)version, (void)upload, (void)upload_size, (void)con_cls, (void)method;

	pthread_mutex_lock(&f->mu);
	if (strcmp(url, PVCS) == 0 && !watch) {
		n = ++f->pvc_lists;
		wait_gate(f, &f->allow_lists, n);
		body = pvc_list(f, n);
	} else if (strcmp(url, PVCS) == 0) {
		const char *rv =
			MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "resourceVersion");
		const char *bm = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
							     "allowWatchBookmarks");
		n = ++f->pvc_watches;
		if (n < 8)
			snprintf(f->watch_rv[n], sizeof(f->watch_rv[n]), "%s", rv ? rv : "");
		if (n == 1)
			snprintf(f->bookmarks, sizeof(f->bookmarks), "%s", bm ? bm : "");
		wait_gate(f, &f->allow_watches, n);
		body = pvc_watch(f, n);
		if (!body) {
			pthread_mutex_unlock(&f->mu);
			usleep(200 * 1000); /* a quiet watch that ends on time */
			pthread_mutex_lock(&f->mu);
			body = strdup("");
		}
	} else if (strcmp(url, SCS) == 0 && !watch) {
		f->sc_lists++;
		assert_true(asprintf(&body,
				     "{\"kind\":\"StorageClassList\",\"apiVersion\":"
				     "\"storage.k8s.io/v1\",\"metadata\":{\"resourceVersion\":"
				     "\"50\"},\"items\":[%s]}",
				     f->sc) > 0);
	} else if (strcmp(url, SCS) == 0) {
		f->sc_watches++;
		pthread_mutex_unlock(&f->mu);
		usleep(200 * 1000);
		pthread_mutex_lock(&f->mu);
		body = strdup("");
	} else if (strncmp(url, NS_PVCS, strlen(NS_PVCS)) == 0) {
		const char *name = url + strlen(NS_PVCS);

		f->pvc_gets++;
		if (strcmp(name, "redis-data") == 0)
			body = dump(f->pvc_tmpl);
		else if (strcmp(name, "created-now") == 0)
			body = pvc_named(f, "created-now", "4Gi", "900");
	} else if (strcmp(url, SCS "/pmem-ext4") == 0) {
		f->sc_gets++;
		body = strdup(f->sc);
	}
	pthread_mutex_unlock(&f->mu);
	r = reply(conn, body ? 200 : 404, body ? body : not_found);
	free(body);
	return r;
}

static void kfake_start(struct kfake *f)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->mu, NULL);
	f->pvc_tmpl = json_load_file(API_FIX "get-pvc.json", 0, NULL);
	f->pvc_1 = json_load_file(API_FIX "get-pvc-redis-data-1.json", 0, NULL);
	assert_non_null(f->pvc_tmpl);
	assert_non_null(f->pvc_1);
	json_t *sc = json_load_file(API_FIX "get-storageclass.json", 0, NULL);
	assert_non_null(sc);
	f->sc = dump(sc);
	json_decref(sc);
	f->recorded = slurp(API_FIX "watch-pvcs.jsonl");
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
				NULL, NULL, kfake_handle, f, MHD_OPTION_SOCK_ADDR, &sa,
				MHD_OPTION_END);
	assert_non_null(f->d);
	f->port = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT)->port;
}

static void kfake_stop(struct kfake *f)
{
	pthread_mutex_lock(&f->mu);
	f->stopping = true;
	pthread_mutex_unlock(&f->mu);
	MHD_stop_daemon(f->d);
	json_decref(f->pvc_tmpl);
	json_decref(f->pvc_1);
	free(f->sc);
	free(f->recorded);
	pthread_mutex_destroy(&f->mu);
}

static unsigned fake_count(struct kfake *f, const unsigned *counter)
{
	unsigned n;

	pthread_mutex_lock(&f->mu);
	n = *counter;
	pthread_mutex_unlock(&f->mu);
	return n;
}

static void fake_allow(struct kfake *f, unsigned *gate, unsigned n)
{
	pthread_mutex_lock(&f->mu);
	*gate = n;
	pthread_mutex_unlock(&f->mu);
}

/* GET /v1/cluster's "kubernetes" object, its informer `which` ("pvcs", "storageclasses"). */
static json_t *informer(struct cluster_kube *k, const char *which)
{
	json_t *all = cluster_kube_json(k), *one;

	assert_non_null(all);
	one = json_incref(json_object_get(all, which));
	json_decref(all);
	assert_non_null(one);
	return one;
}

static json_int_t num(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* Polls the informer until ok() holds (10 s at most: a failure, not a hang). */
static json_t *wait_for(struct cluster_kube *k, const char *which, bool (*ok)(const json_t *))
{
	for (int i = 0; i < 2000; i++) {
		json_t *o = informer(k, which);

		if (ok(o))
			return o;
		json_decref(o);
		usleep(WAIT_STEP_US);
	}
	json_t *o = informer(k, which);
	char *s = dump(o);
	fail_msg("informer %s never reached the state: %s", which, s);
	return NULL;
}

static bool listed_once(const json_t *o)
{
	return json_is_true(json_object_get(o, "synced")) && num(o, "objects") == 2 &&
	       strcmp(str(o, "state"), "watching") == 0;
}

static bool bookmarked(const json_t *o)
{
	return strcmp(str(o, "resource_version"), "400") == 0;
}

static bool relisted(const json_t *o)
{
	return num(o, "lists") == 2 && num(o, "relists") == 1 &&
	       strcmp(str(o, "state"), "watching") == 0;
}

static bool after_garbage(const json_t *o)
{
	return num(o, "bad_lines") == 1 && num(o, "lists") == 3 &&
	       strcmp(str(o, "state"), "watching") == 0;
}

static bool sc_synced(const json_t *o)
{
	return json_is_true(json_object_get(o, "synced")) && num(o, "objects") == 1;
}

static int lookup(struct cluster_kube *k, const char *claim, struct sched_pvc_info *info)
{
	char err[256] = "";

	memset(info, 0, sizeof(*info));
	return cluster_kube_pvc_lookup(k, "default", claim, info, err, sizeof(err));
}

static void test_pvc_and_class_caches(void **state)
{
	struct kfake f;
	struct cluster_kube *k = NULL;
	struct sched_pvc_info info;
	struct config *cfg;
	char yaml[256], msg[256], err[256];
	json_t *o, *c;
	(void)state;

	kfake_start(&f);
	snprintf(yaml, sizeof(yaml),
		 "role: scheduler\nkube: {enabled: true, api_url: \"http://127.0.0.1:%u\"}\n",
		 f.port);
	cfg = cfg_of(yaml);
	assert_int_equal(cluster_kube_new(cfg, NULL, &k, msg, sizeof(msg)), 0);
	assert_int_equal(cluster_kube_caches_start(k, err, sizeof(err)), 0);

	/* Not synced yet (the PVC list is held): a lookup is one GET, which fills the cache. */
	o = informer(k, "pvcs");
	assert_false(json_is_true(json_object_get(o, "synced")));
	json_decref(o);
	assert_int_equal(lookup(k, "redis-data", &info), 0);
	assert_true(info.ours);
	assert_true(info.size == 64 * GI);
	assert_string_equal(info.fstype, "ext4");
	assert_int_equal(fake_count(&f, &f.pvc_gets), 1);
	assert_int_equal(lookup(k, "redis-data", &info), 0);
	assert_int_equal(fake_count(&f, &f.pvc_gets), 1);

	/* The StorageClass list: the class is cached with only what the scheduler reads. */
	json_decref(wait_for(k, "storageclasses", sc_synced));
	unsigned sc_gets = fake_count(&f, &f.sc_gets); /* 0 or 1: the list may have been late */
	c = cluster_kube_cached(k, false, "pmem-ext4");
	assert_non_null(c);
	assert_string_equal(str(c, "provisioner"), "pmem.csi.pmemd.io");
	assert_string_equal(str(json_object_get(c, "parameters"), "placement"), "binpack");
	assert_null(json_object_get(c, "volumeBindingMode"));
	json_decref(c);

	/* The list: both PVCs, answered from the cache. */
	fake_allow(&f, &f.allow_lists, 100);
	json_decref(wait_for(k, "pvcs", listed_once));
	assert_int_equal(lookup(k, "redis-data-1", &info), 0);
	assert_true(info.size == 32 * GI);
	assert_int_equal(fake_count(&f, &f.pvc_gets), 1);
	assert_int_equal(fake_count(&f, &f.sc_gets), sc_gets);

	/* The watch, from the list's resourceVersion with bookmarks: MODIFIED (recorded),
	 * ADDED, DELETED, then a BOOKMARK that moves the resourceVersion. */
	fake_allow(&f, &f.allow_watches, 1);
	o = wait_for(k, "pvcs", bookmarked);
	assert_int_equal(num(o, "objects"), 2); /* redis-data, fresh-1 */
	json_decref(o);
	pthread_mutex_lock(&f.mu);
	assert_string_equal(f.watch_rv[1], "300");
	assert_string_equal(f.bookmarks, "true");
	pthread_mutex_unlock(&f.mu);
	c = cluster_kube_cached(k, true, "default/redis-data");
	assert_non_null(c);
	{
		json_t *md = json_object_get(c, "metadata"),
		       *ann = json_object_get(md, "annotations");

		/* the recorded MODIFIED events: kept the pmem.io/ annotation and the selected
		 * node; not the labels, managedFields or kubectl's copy of the object */
		assert_string_equal(str(ann, "pmem.io/example"), "watched");
		assert_string_equal(str(ann, "volume.kubernetes.io/selected-node"), "acc-node-2");
		assert_null(
			json_object_get(ann, "kubectl.kubernetes.io/last-applied-configuration"));
		assert_null(json_object_get(md, "labels"));
		assert_null(json_object_get(md, "managedFields"));
		assert_string_equal(str(json_object_get(c, "spec"), "storageClassName"),
				    "pmem-ext4");
		assert_string_equal(str(json_object_get(c, "status"), "phase"), "Pending");
	}
	json_decref(c);
	assert_int_equal(lookup(k, "fresh-1", &info), 0); /* ADDED: no GET */
	assert_true(info.size == 8 * GI);
	assert_int_equal(fake_count(&f, &f.pvc_gets), 1);
	/* DELETED: gone from the cache; the lookup asks the API server, which says 404 */
	assert_null(cluster_kube_cached(k, true, "default/redis-data-1"));
	assert_int_equal(lookup(k, "redis-data-1", &info), -ENOENT);
	assert_int_equal(fake_count(&f, &f.pvc_gets), 2);

	/* 410 Gone: a new list replaces the cache (fresh-1 is not in it any more). */
	fake_allow(&f, &f.allow_watches, 2);
	o = wait_for(k, "pvcs", relisted);
	assert_int_equal(num(o, "objects"), 2);
	assert_string_equal(str(o, "resource_version"), "500");
	json_decref(o);
	assert_null(cluster_kube_cached(k, true, "default/fresh-1"));
	assert_int_equal(lookup(k, "late-1", &info), 0);
	assert_true(info.size == 2 * GI);
	/* "watching" is said just before the request goes: wait until the fake has it */
	for (int i = 0; i < 2000 && fake_count(&f, &f.pvc_watches) < 3; i++)
		usleep(WAIT_STEP_US);
	pthread_mutex_lock(&f.mu);
	assert_string_equal(f.watch_rv[3], "500");
	pthread_mutex_unlock(&f.mu);

	/* An event, then a line that is not one: counted, listed again, nothing crashes. */
	fake_allow(&f, &f.allow_watches, 100);
	o = wait_for(k, "pvcs", after_garbage);
	assert_non_null(strstr(str(o, "last_error"), "not an event"));
	json_decref(o);
	assert_int_equal(lookup(k, "late-1", &info), 0);
	assert_true(info.size == 2 * GI); /* the third list's late-1 */

	/* A PVC created a moment ago: one GET, then the cache answers. */
	unsigned gets = fake_count(&f, &f.pvc_gets);
	assert_int_equal(lookup(k, "created-now", &info), 0);
	assert_true(info.size == 4 * GI);
	assert_int_equal(lookup(k, "created-now", &info), 0);
	assert_int_equal(fake_count(&f, &f.pvc_gets), gets + 1);
	o = cluster_kube_json(k);
	/* redis-data (before the sync), redis-data-1 (after its deletion), created-now, and the
	 * class when its list came after the first lookup */
	assert_int_equal(num(o, "lookups_fetched"), 3 + sc_gets);
	json_decref(o);

	/* A claim that is not a name never reaches a URL. */
	assert_int_equal(lookup(k, "../x", &info), -EINVAL);

	cluster_kube_free(k);
	config_free(cfg);
	kfake_stop(&f);
}

/* Without an API server, the informers retry and say so; lookups fail with the reason. */
static void test_caches_api_down(void **state)
{
	struct cluster_kube *k = NULL;
	struct sched_pvc_info info;
	struct config *cfg;
	char yaml[256], msg[256], err[256] = "";
	json_t *o;
	(void)state;

	snprintf(yaml, sizeof(yaml),
		 "role: scheduler\nkube: {enabled: true, api_url: \"http://127.0.0.1:%u\"}\n",
		 free_port());
	cfg = cfg_of(yaml);
	assert_int_equal(cluster_kube_new(cfg, NULL, &k, msg, sizeof(msg)), 0);
	assert_int_equal(cluster_kube_caches_start(k, err, sizeof(err)), 0);
	memset(&info, 0, sizeof(info));
	assert_true(cluster_kube_pvc_lookup(k, "default", "x", &info, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "cannot read it"));
	for (int i = 0; i < 2000; i++) {
		o = informer(k, "pvcs");
		bool retrying = strcmp(str(o, "state"), "retrying") == 0;
		json_decref(o);
		if (retrying)
			break;
		usleep(WAIT_STEP_US);
	}
	o = informer(k, "pvcs");
	assert_string_equal(str(o, "state"), "retrying");
	assert_false(json_is_true(json_object_get(o, "synced")));
	assert_int_equal(num(o, "objects"), 0);
	json_decref(o);
	cluster_kube_free(k); /* bounded: the naps end at once */
	config_free(cfg);
}

/* GET /v1/cluster (cluster_to_json) carries each informer's state under "kubernetes". */
static void test_cluster_json_shows_caches(void **state)
{
	struct kfake f;
	struct cluster *c = NULL;
	struct config *cfg;
	char yaml[256], err[512] = "";
	json_t *o = NULL, *kube = NULL;
	(void)state;

	kfake_start(&f);
	fake_allow(&f, &f.allow_lists, 100);
	snprintf(yaml, sizeof(yaml),
		 "role: scheduler\nkube: {enabled: true, api_url: \"http://127.0.0.1:%u\"}\n",
		 f.port);
	cfg = cfg_of(yaml);
	assert_int_equal(cluster_new(&(struct cluster_opts){.cfg = cfg}, &c, err, sizeof(err)), 0);
	assert_int_equal(cluster_start(c, err, sizeof(err)), 0);
	for (int i = 0; i < 2000; i++) {
		json_decref(o);
		o = cluster_to_json(c);
		kube = json_object_get(o, "kubernetes");
		if (num(json_object_get(kube, "pvcs"), "objects") == 2 &&
		    num(json_object_get(kube, "storageclasses"), "objects") == 1)
			break;
		usleep(WAIT_STEP_US);
	}
	assert_non_null(kube);
	assert_true(json_is_true(json_object_get(json_object_get(kube, "pvcs"), "synced")));
	assert_int_equal(num(json_object_get(kube, "pvcs"), "objects"), 2);
	assert_string_equal(str(json_object_get(kube, "pvcs"), "resource_version"), "300");
	assert_int_equal(num(json_object_get(kube, "storageclasses"), "objects"), 1);
	/* the PmemNode informer (this fake has no PmemNodes: 404, so it retries) */
	assert_non_null(json_object_get(json_object_get(kube, "watch"), "state"));
	assert_non_null(json_object_get(kube, "lookups_fetched"));
	json_decref(o);
	cluster_free(c);
	config_free(cfg);
	kfake_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pvc_and_class_caches),
		cmocka_unit_test(test_caches_api_down),
		cmocka_unit_test(test_cluster_json_shows_caches),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	log_set_level(LOG_LVL_ERROR);
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return r;
}
