/*
 * check_control: the control socket's messages (encoding, parsing of
 * untrusted input) and one real call through a server, with a
 * descriptor passed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check_main.h"
#include "control.h"

static void parse_ok(const char *text, struct kvmsg *m)
{
	ck_assert_int_eq(kv_parse(text, strlen(text), m), 0);
}

static int parse_rc(const char *text)
{
	struct kvmsg m;
	int rc = kv_parse(text, strlen(text), &m);

	if (rc == 0)
		kv_msg_free(&m);
	return rc;
}

START_TEST(test_roundtrip_every_byte)
{
	char value[256];
	struct kvbuf b = { 0 };
	struct kvmsg m;

	for (int i = 1; i < 256; i++)
		value[i - 1] = (char)i;
	value[255] = '\0';
	kv_add(&b, "all", value);
	kv_add(&b, "empty", "");
	kv_add(&b, "none", NULL);           /* left out */
	kv_addf(&b, "num", "%d-%s", 42, "x");
	kv_add(&b, "all", "second");
	ck_assert_int_eq(b.err, 0);
	/* One line per pair: nothing but printable ASCII and newlines. */
	for (size_t i = 0; i < b.len; i++)
		ck_assert(b.p[i] == '\n' || (b.p[i] >= 0x20 && b.p[i] < 0x7f));
	ck_assert_int_eq(kv_parse(b.p, b.len, &m), 0);
	ck_assert_uint_eq(m.n, 4);
	ck_assert_str_eq(kv_get(&m, "all"), value);   /* the first one */
	ck_assert_str_eq(kv_get(&m, "empty"), "");
	ck_assert_ptr_null(kv_get(&m, "none"));
	ck_assert_str_eq(kv_get(&m, "num"), "42-x");
	ck_assert_str_eq(m.values[3], "second");
	kv_msg_free(&m);
	kv_free(&b);
}
END_TEST

START_TEST(test_malformed)
{
	struct kvmsg m;

	ck_assert_int_eq(parse_rc(""), -EINVAL);
	ck_assert_int_eq(parse_rc("a=1"), -EINVAL);          /* no newline */
	ck_assert_int_eq(parse_rc("a\n"), -EINVAL);          /* no '=' */
	ck_assert_int_eq(parse_rc("=1\n"), -EINVAL);         /* no key */
	ck_assert_int_eq(parse_rc("a b=1\n"), -EINVAL);      /* space in key */
	ck_assert_int_eq(parse_rc("a%41=1\n"), -EINVAL);     /* % in key */
	ck_assert_int_eq(parse_rc("a=1\n\n"), -EINVAL);      /* empty line */
	ck_assert_int_eq(parse_rc("a=x\ty\n"), -EINVAL);     /* raw control */
	ck_assert_int_eq(parse_rc("a=\x7f\n"), -EINVAL);
	ck_assert_int_eq(parse_rc("a=%00\n"), -EINVAL);      /* NUL */
	ck_assert_int_eq(parse_rc("a=%4\n"), -EINVAL);       /* cut short */
	ck_assert_int_eq(parse_rc("a=%G1\n"), -EINVAL);
	ck_assert_int_eq(parse_rc("a=%4a\n"), -EINVAL);      /* lowercase */
	ck_assert_int_eq(parse_rc("a=1\nb"), -EINVAL);
	{
		static const char nul[] = "a=1\0b\n";

		ck_assert_int_eq(kv_parse(nul, sizeof(nul) - 1, &m), -EINVAL);
	}
	parse_ok("a=b=c\nk=%25%0A\n", &m);
	ck_assert_str_eq(kv_get(&m, "a"), "b=c");
	ck_assert_str_eq(kv_get(&m, "k"), "%\n");
	kv_msg_free(&m);
}
END_TEST

START_TEST(test_too_large)
{
	struct kvbuf b = { 0 };
	char *big = malloc(CONTROL_MSG_MAX);

	ck_assert_ptr_nonnull(big);
	memset(big, 'x', CONTROL_MSG_MAX - 1);
	big[CONTROL_MSG_MAX - 1] = '\0';
	kv_add(&b, "big", big);
	ck_assert_int_eq(b.err, -E2BIG);
	kv_add(&b, "small", "1");            /* nothing after a failure */
	ck_assert_int_eq(b.err, -E2BIG);
	kv_free(&b);
	free(big);
}
END_TEST

/* The server of the tests: echoes x, says who called, writes "hello"
 * into a descriptor passed. */
static void echo(void *ctx, const struct control_peer *peer,
                 const struct kvmsg *req, int fd, struct kvbuf *reply)
{
	(void)ctx;
	kv_add(reply, "status", "ok");
	kv_addf(reply, "uid", "%u", (unsigned)peer->uid);
	kv_addf(reply, "pid", "%d", (int)peer->pid);
	kv_add(reply, "x", kv_get(req, "x"));
	if (fd >= 0)
		ck_assert_int_eq(write(fd, "hello", 5), 5);
}

START_TEST(test_call)
{
	struct control *c = NULL;
	struct kvbuf req = { 0 };
	struct kvmsg rep;
	char sock[108], buf[16], *big;
	int p[2], s;
	ssize_t n;

	if (geteuid() != 0) {
		/* The socket directory is root's: the daemon runs as root. */
		ck_assert_int_eq(control_start("/", echo, NULL, &c), -EACCES);
		return;
	}
	/* "/" is always a mount point. */
	ck_assert_int_eq(control_start("/", echo, NULL, &c), 0);
	ck_assert_int_eq(pipe(p), 0);
	kv_add(&req, "x", "caf\xc3\xa9 = 100%");
	ck_assert_int_eq(control_call("/", &req, p[1], &rep), 0);
	kv_free(&req);
	ck_assert_str_eq(kv_get(&rep, "status"), "ok");
	ck_assert_str_eq(kv_get(&rep, "uid"), "0");
	ck_assert_int_eq(atoi(kv_get(&rep, "pid")), getpid());
	ck_assert_str_eq(kv_get(&rep, "x"), "caf\xc3\xa9 = 100%");
	kv_msg_free(&rep);
	n = read(p[0], buf, sizeof(buf));
	ck_assert_int_eq(n, 5);
	ck_assert_mem_eq(buf, "hello", 5);
	close(p[0]);
	close(p[1]);

	/* A large value, under the limit, whole. */
	big = malloc(CONTROL_MSG_MAX / 2);
	memset(big, 'y', CONTROL_MSG_MAX / 2 - 1);
	big[CONTROL_MSG_MAX / 2 - 1] = '\0';
	kv_add(&req, "x", big);
	ck_assert_int_eq(control_call("/", &req, -1, &rep), 0);
	kv_free(&req);
	ck_assert_str_eq(kv_get(&rep, "x"), big);
	kv_msg_free(&rep);
	free(big);

	/* Bytes that are not a message get an error reply. */
	ck_assert_int_eq(control_path("/", sock, sizeof(sock)), 0);
	s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		memcpy(sa.sun_path, sock, strlen(sock) + 1);
		ck_assert_int_eq(connect(s, (struct sockaddr *)&sa,
		                         sizeof(sa)), 0);
	}
	ck_assert_int_eq(send(s, "no equals sign\n", 15, 0), 15);
	n = recv(s, buf, sizeof(buf) - 1, 0);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_str_eq(buf, "status=error\nme");   /* cut by the buffer */
	close(s);

	control_stop(c);
	ck_assert_int_eq(access(sock, F_OK), -1);      /* removed */
	ck_assert_int_eq(control_call("/", &req, -1, &rep), -ENOENT);
	kv_free(&req);
}
END_TEST

static Suite *control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *t = tcase_create("core");

	tcase_add_test(t, test_roundtrip_every_byte);
	tcase_add_test(t, test_malformed);
	tcase_add_test(t, test_too_large);
	tcase_add_test(t, test_call);
	suite_add_tcase(s, t);
	return s;
}

CHECK_MAIN(control_suite)
