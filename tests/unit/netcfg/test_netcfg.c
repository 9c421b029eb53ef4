// SPDX-License-Identifier: Apache-2.0
/*
 * The shared checkers of network, vsock and limits values: what each one
 * accepts, what it stores, and the exact phrase of each refusal.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "raevm/netcfg.h"
#include "raevm/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IP(a, b, c, d)                                                         \
	__builtin_bswap32((uint32_t)((a) << 24 | (b) << 16 | (c) << 8 | (d)))

static char buf[RV_NETCFG_PHRASE_LEN];

/* The phrase for text, or "" when it parses. */
static const char *fwd(const char *text, struct rv_net_forward *fw)
{
	const char *p = rv_net_forward_parse(text, fw, buf, sizeof(buf));

	return p ? p : "";
}

static void forward_parse__full_form(void **state)
{
	struct rv_net_forward fw;

	(void)state;
	assert_string_equal(fwd("udp:10.1.2.3:5353-10.0.2.15:53", &fw), "");
	assert_true(fw.udp);
	assert_int_equal(fw.host_addr, IP(10, 1, 2, 3));
	assert_int_equal(fw.host_port, 5353);
	assert_int_equal(fw.guest_addr, IP(10, 0, 2, 15));
	assert_int_equal(fw.guest_port, 53);
}

static void forward_parse__empty_addresses(void **state)
{
	struct rv_net_forward fw;

	(void)state;
	assert_string_equal(fwd("tcp::2222-:22", &fw), "");
	assert_false(fw.udp);
	assert_int_equal(fw.host_addr, IP(127, 0, 0, 1));
	assert_int_equal(fw.host_port, 2222);
	assert_int_equal(fw.guest_addr, 0);
	assert_int_equal(fw.guest_port, 22);
}

static void forward_parse__any_address_is_zero(void **state)
{
	struct rv_net_forward fw;

	(void)state;
	assert_string_equal(fwd("tcp:0.0.0.0:8080-:80", &fw), "");
	assert_int_equal(fw.host_addr, 0);
	assert_int_equal(fw.host_port, 8080);
	assert_int_equal(fw.guest_port, 80);
}

static void forward_parse__bad_shapes(void **state)
{
	static const char shape[] =
		"expected PROTO:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT such as tcp:127.0.0.1:2222-:22";
	struct rv_net_forward fw = { .host_port = 7 };

	(void)state;
	assert_string_equal(fwd("", &fw), shape);
	assert_string_equal(fwd("tcp", &fw), shape);
	assert_string_equal(fwd("tcp:2222:22", &fw), shape);
	assert_string_equal(fwd("tcp:2222-:22", &fw), shape);
	assert_string_equal(fwd("tcp::2222-22", &fw), shape);
	assert_string_equal(fwd("tcp::2222-:22-:23", &fw), shape);
	/* A refused forward leaves *out alone. */
	assert_int_equal(fw.host_port, 7);
}

static void forward_parse__bad_parts(void **state)
{
	struct rv_net_forward fw;

	(void)state;
	assert_string_equal(fwd("sctp::1-:2", &fw),
			    "unknown protocol 'sctp' (use tcp or udp)");
	assert_string_equal(fwd("TCP::1-:2", &fw),
			    "unknown protocol 'TCP' (use tcp or udp)");
	assert_string_equal(
		fwd("tcp:1.2.3:1-:2", &fw),
		"host address '1.2.3' is not an IPv4 address such as 127.0.0.1");
	assert_string_equal(
		fwd("tcp:1.2.3.256:1-:2", &fw),
		"host address '1.2.3.256' is not an IPv4 address such as 127.0.0.1");
	assert_string_equal(
		fwd("tcp:010.0.0.1:1-:2", &fw),
		"host address '010.0.0.1' is not an IPv4 address such as 127.0.0.1");
	assert_string_equal(
		fwd("tcp::1-::1:2", &fw),
		"guest address '::1' is not an IPv4 address such as 127.0.0.1");
	assert_string_equal(fwd("tcp::0-:22", &fw),
			    "host port '0' is not a number from 1 to 65535");
	assert_string_equal(
		fwd("tcp::65536-:22", &fw),
		"host port '65536' is not a number from 1 to 65535");
	assert_string_equal(fwd("tcp::+22-:22", &fw),
			    "host port '+22' is not a number from 1 to 65535");
	assert_string_equal(fwd("tcp::22-:", &fw),
			    "guest port '' is not a number from 1 to 65535");
	assert_string_equal(
		fwd("tcp::22-:99999999999999999999", &fw),
		"guest port '99999999999999999999' is not a number from 1 to 65535");
}

static void forward_format__round_trip(void **state)
{
	static const char *const texts[] = {
		"tcp:127.0.0.1:2222-:22",
		"udp:0.0.0.0:5353-10.0.2.15:53",
		"tcp:192.168.1.10:65535-10.0.2.1:1",
	};
	char out[RV_NET_FORWARD_STR_LEN];
	struct rv_net_forward fw;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		assert_string_equal(fwd(texts[i], &fw), "");
		assert_string_equal(
			rv_net_forward_format(&fw, out, sizeof(out)), texts[i]);
	}
	/* The empty host address comes back spelt out. */
	assert_string_equal(fwd("tcp::1-:2", &fw), "");
	assert_string_equal(rv_net_forward_format(&fw, out, sizeof(out)),
			    "tcp:127.0.0.1:1-:2");
}

static void forward_clash__same_port_and_any_address(void **state)
{
	struct rv_net_forward a, b;

	(void)state;
	assert_string_equal(fwd("tcp::2222-:22", &a), "");
	assert_string_equal(fwd("tcp:127.0.0.1:2222-:23", &b), "");
	assert_true(rv_net_forward_clash(&a, &b));
	assert_string_equal(fwd("tcp:0.0.0.0:2222-:23", &b), "");
	assert_true(rv_net_forward_clash(&a, &b));
	assert_string_equal(fwd("udp::2222-:22", &b), "");
	assert_false(rv_net_forward_clash(&a, &b));
	assert_string_equal(fwd("tcp:10.0.0.1:2222-:22", &b), "");
	assert_false(rv_net_forward_clash(&a, &b));
	assert_string_equal(fwd("tcp::2223-:22", &b), "");
	assert_false(rv_net_forward_clash(&a, &b));
}

static void mac_parse__good_and_format(void **state)
{
	uint8_t mac[6];
	char out[RV_NET_MAC_STR_LEN];

	(void)state;
	assert_null(
		rv_net_mac_parse("52:54:00:AB:cd:0f", mac, buf, sizeof(buf)));
	assert_int_equal(mac[0], 0x52);
	assert_int_equal(mac[3], 0xab);
	assert_int_equal(mac[5], 0x0f);
	assert_string_equal(rv_net_mac_format(mac, out, sizeof(out)),
			    "52:54:00:ab:cd:0f");
}

static void mac_parse__refused(void **state)
{
	static const char shape[] =
		"is not a MAC address such as 52:54:00:12:34:56";
	uint8_t mac[6] = { 9, 9, 9, 9, 9, 9 };

	(void)state;
	assert_string_equal(rv_net_mac_parse("52:54:00:12:34", mac, buf,
					     sizeof(buf)),
			    shape);
	assert_string_equal(rv_net_mac_parse("52-54-00-12-34-56", mac, buf,
					     sizeof(buf)),
			    shape);
	assert_string_equal(rv_net_mac_parse("52:54:00:12:34:5g", mac, buf,
					     sizeof(buf)),
			    shape);
	assert_string_equal(rv_net_mac_parse("52:54:00:12:34:56:", mac, buf,
					     sizeof(buf)),
			    shape);
	assert_string_equal(
		rv_net_mac_parse("01:00:5e:00:00:01", mac, buf, sizeof(buf)),
		"is a multicast address (a NIC needs a unicast one: the first byte must be even)");
	assert_string_equal(
		rv_net_mac_parse("ff:ff:ff:ff:ff:ff", mac, buf, sizeof(buf)),
		"is a multicast address (a NIC needs a unicast one: the first byte must be even)");
	assert_string_equal(rv_net_mac_parse("00:00:00:00:00:00", mac, buf,
					     sizeof(buf)),
			    "is all zeros (not a usable address)");
	assert_int_equal(mac[0], 9);
}

static void mtu_problem__range(void **state)
{
	(void)state;
	assert_null(rv_net_mtu_problem(68, buf, sizeof(buf)));
	assert_null(rv_net_mtu_problem(65535, buf, sizeof(buf)));
	assert_string_equal(rv_net_mtu_problem(67, buf, sizeof(buf)),
			    "is not an MTU from 68 to 65535");
	assert_string_equal(rv_net_mtu_problem(65536, buf, sizeof(buf)),
			    "is not an MTU from 68 to 65535");
}

static void tap_name_problem__rules(void **state)
{
	(void)state;
	assert_null(rv_net_tap_name_problem("tap0", buf, sizeof(buf)));
	assert_null(
		rv_net_tap_name_problem("abcdefghijklmno", buf, sizeof(buf)));
	assert_string_equal(
		rv_net_tap_name_problem("abcdefghijklmnop", buf, sizeof(buf)),
		"is too long (16 bytes; an interface name has at most 15)");
	assert_string_equal(rv_net_tap_name_problem("", buf, sizeof(buf)),
			    "is empty");
	assert_string_equal(
		rv_net_tap_name_problem("a/b", buf, sizeof(buf)),
		"contains '/', which an interface name cannot hold");
	assert_string_equal(
		rv_net_tap_name_problem("eth0:1", buf, sizeof(buf)),
		"contains ':', which an interface name cannot hold");
	assert_string_equal(
		rv_net_tap_name_problem("tap 0", buf, sizeof(buf)),
		"contains the byte 0x20 (use printable ASCII without spaces)");
	assert_string_equal(
		rv_net_tap_name_problem("t\xc3\xa4p", buf, sizeof(buf)),
		"contains the byte 0xc3 (use printable ASCII without spaces)");
	assert_string_equal(rv_net_tap_name_problem("..", buf, sizeof(buf)),
			    "is not a valid interface name");
}

static void cpuset_problem__lists(void **state)
{
	unsigned int n = 0;

	(void)state;
	assert_null(rv_limit_cpuset_problem("0-1,3", &n, buf, sizeof(buf)));
	assert_int_equal(n, 3);
	assert_null(rv_limit_cpuset_problem("2,0-3,3", &n, buf, sizeof(buf)));
	assert_int_equal(n, 4);
	assert_null(rv_limit_cpuset_problem("8191", &n, buf, sizeof(buf)));
	assert_int_equal(n, 1);
	assert_string_equal(rv_limit_cpuset_problem("", &n, buf, sizeof(buf)),
			    "is empty");
	assert_string_equal(rv_limit_cpuset_problem("0,,1", &n, buf,
						    sizeof(buf)),
			    "is not a CPU list such as 0-1,3");
	assert_string_equal(rv_limit_cpuset_problem("0-", &n, buf, sizeof(buf)),
			    "is not a CPU list such as 0-1,3");
	assert_string_equal(rv_limit_cpuset_problem("a", &n, buf, sizeof(buf)),
			    "is not a CPU list such as 0-1,3");
	assert_string_equal(rv_limit_cpuset_problem("0,", &n, buf, sizeof(buf)),
			    "is not a CPU list such as 0-1,3");
	assert_string_equal(rv_limit_cpuset_problem("3-1", &n, buf,
						    sizeof(buf)),
			    "has the range 3-1, which runs backwards");
	assert_string_equal(rv_limit_cpuset_problem("0-8192", &n, buf,
						    sizeof(buf)),
			    "names CPU 8192 (the highest is 8191)");
}

static void limit_values__ranges(void **state)
{
	uint64_t bytes = 0;

	(void)state;
	assert_null(rv_limit_memory_parse("1G", &bytes, buf, sizeof(buf)));
	assert_int_equal(bytes, 1ULL << 30);
	assert_string_equal(rv_limit_memory_parse("16M", &bytes, buf,
						  sizeof(buf)),
			    "is below the minimum of 32M");
	assert_string_equal(rv_limit_memory_parse("17T", &bytes, buf,
						  sizeof(buf)),
			    "is above the maximum of 16T");
	assert_string_equal(rv_limit_memory_parse("lots", &bytes, buf,
						  sizeof(buf)),
			    "is not a size such as 512M or 2G");
	assert_int_equal(bytes, 1ULL << 30);
	assert_null(rv_limit_memory_vs_guest(600ULL << 20, 512ULL << 20, buf,
					     sizeof(buf)));
	assert_string_equal(
		rv_limit_memory_vs_guest(512ULL << 20, 512ULL << 20, buf,
					 sizeof(buf)),
		"512 MiB is not larger than the guest's memory (512 MiB): the limit counts guest RAM and raevm's own use");
	assert_null(rv_limit_cpu_problem(1, buf, sizeof(buf)));
	assert_null(rv_limit_cpu_problem(25400, buf, sizeof(buf)));
	assert_string_equal(rv_limit_cpu_problem(0, buf, sizeof(buf)),
			    "is not a percentage of one CPU from 1 to 25400");
	assert_null(rv_limit_pids_problem(8, buf, sizeof(buf)));
	assert_string_equal(rv_limit_pids_problem(7, buf, sizeof(buf)),
			    "is not a number of tasks from 8 to 4194304");
	assert_string_equal(rv_limit_pids_problem(4194305, buf, sizeof(buf)),
			    "is not a number of tasks from 8 to 4194304");
	assert_null(rv_vsock_cid_problem(3, buf, sizeof(buf)));
	assert_null(rv_vsock_cid_problem(0xfffffffeULL, buf, sizeof(buf)));
	assert_non_null(rv_vsock_cid_problem(2, buf, sizeof(buf)));
	assert_non_null(rv_vsock_cid_problem(0xffffffffULL, buf, sizeof(buf)));
}

/* ------------------------------------------------------------ SPECs */

static const char *net(const char *spec, struct rv_net_config *n, bool *none)
{
	const char *p = rv_net_spec_parse(spec, n, none, buf, sizeof(buf));

	return p ? p : "";
}

static void net_spec_parse__user_with_everything(void **state)
{
	struct rv_net_config n;
	bool none = true;

	(void)state;
	assert_string_equal(
		net("user,forward=tcp::2222-:22,forward=udp::5353-:53,restrict,mac=52:54:00:00:00:01,mtu=9000",
		    &n, &none),
		"");
	assert_false(none);
	assert_int_equal(n.mode, RV_NET_USER);
	assert_true(n.restrict_net);
	assert_true(n.mac_set);
	assert_int_equal(n.mac[5], 1);
	assert_int_equal(n.mtu, 9000);
	assert_int_equal(n.nr_forwards, 2);
	assert_int_equal(n.forwards[0].host_port, 2222);
	assert_true(n.forwards[1].udp);
	assert_null(n.tap_name);
	assert_int_equal(n.tap_fd, -1);
}

static void net_spec_parse__modes(void **state)
{
	struct rv_net_config n;
	bool none = false;

	(void)state;
	assert_string_equal(net("none", &n, &none), "");
	assert_true(none);
	assert_string_equal(net("user", &n, &none), "");
	assert_false(none);
	assert_int_equal(n.nr_forwards, 0);
	/* The mode can be left out when an option comes first. */
	assert_string_equal(net("forward=tcp::80-:80", &n, &none), "");
	assert_int_equal(n.mode, RV_NET_USER);
	assert_int_equal(n.nr_forwards, 1);
	assert_string_equal(net("restrict", &n, &none), "");
	assert_true(n.restrict_net);
	assert_string_equal(net("tap,name=tap0,mtu=1400", &n, &none), "");
	assert_int_equal(n.mode, RV_NET_TAP);
	assert_string_equal(n.tap_name, "tap0");
	assert_int_equal(n.mtu, 1400);
	free(n.tap_name);
	assert_string_equal(net("tap,fd=5", &n, &none), "");
	assert_int_equal(n.tap_fd, 5);
	assert_null(n.tap_name);
}

static void net_spec_parse__refused(void **state)
{
	struct rv_net_config n;
	bool none;

	(void)state;
	assert_string_equal(net("", &n, &none),
			    "empty SPEC (use user, tap,name=IF or none)");
	assert_string_equal(net("slirp", &n, &none),
			    "unknown mode 'slirp' (use user, tap or none)");
	assert_string_equal(net("none,restrict", &n, &none),
			    "'none' takes no options");
	assert_string_equal(net("user,", &n, &none), "empty option");
	assert_string_equal(net("user,fwd=tcp::1-:1", &n, &none),
			    "unknown option 'fwd' (did you mean 'fd'?)");
	assert_string_equal(
		net("user,bridge=br0", &n, &none),
		"unknown option 'bridge' (known: forward, restrict, mac, mtu, name, fd)");
	assert_string_equal(net("user,restrict=1", &n, &none),
			    "'restrict' takes no value");
	assert_string_equal(net("user,restrict,restrict", &n, &none),
			    "'restrict' given twice");
	assert_string_equal(net("user,mtu=1500,mtu=1400", &n, &none),
			    "'mtu' given twice");
	assert_string_equal(net("user,mac=", &n, &none), "'mac' needs a value");
	assert_string_equal(net("user,mtu=9x", &n, &none),
			    "mtu '9x' is not an MTU from 68 to 65535");
	assert_string_equal(net("user,mtu=67", &n, &none),
			    "mtu '67' is not an MTU from 68 to 65535");
	assert_string_equal(
		net("user,mac=01:00:00:00:00:01", &n, &none),
		"mac '01:00:00:00:00:01' is a multicast address (a NIC needs a unicast one: the first byte must be even)");
	assert_string_equal(
		net("user,forward=tcp::70000-:22", &n, &none),
		"forward 'tcp::70000-:22': host port '70000' is not a number from 1 to 65535");
	assert_string_equal(
		net("user,forward=tcp::22-:22,forward=tcp:0.0.0.0:22-:23", &n,
		    &none),
		"forward 'tcp:0.0.0.0:22-:23' uses the same host port as an earlier forward");
	assert_string_equal(
		net("user,name=tap0", &n, &none),
		"'name' and 'fd' are for a tap NIC (start the SPEC with tap)");
	assert_string_equal(
		net("tap", &n, &none),
		"a tap needs name=IF (the device to open or create) or fd=N");
	assert_string_equal(
		net("tap,name=tap0,restrict", &n, &none),
		"'forward' and 'restrict' are for a user-mode NIC, not a tap");
	assert_null(n.tap_name);
	assert_string_equal(net("tap,name=tap0,fd=4", &n, &none),
			    "give a tap either 'name' or 'fd', not both");
	assert_string_equal(
		net("tap,name=a/b", &n, &none),
		"name 'a/b' contains '/', which an interface name cannot hold");
	assert_string_equal(
		net("tap,fd=2", &n, &none),
		"fd '2' is not a file descriptor number (3 or more)");
}

static void net_spec_parse__forward_limit(void **state)
{
	char spec[4096];
	struct rv_net_config n;
	size_t o;
	bool none;
	int i;

	(void)state;
	o = (size_t)snprintf(spec, sizeof(spec), "user");
	for (i = 0; i < RV_CONFIG_MAX_FORWARDS; i++)
		o += (size_t)snprintf(spec + o, sizeof(spec) - o,
				      ",forward=tcp::%d-:22", 1000 + i);
	assert_string_equal(net(spec, &n, &none), "");
	assert_int_equal(n.nr_forwards, RV_CONFIG_MAX_FORWARDS);
	snprintf(spec + o, sizeof(spec) - o, ",forward=udp::1-:1");
	assert_string_equal(net(spec, &n, &none),
			    "too many forwards (the limit is 32)");
}

static void vsock_spec_parse__good_and_bad(void **state)
{
	struct rv_vsock_config vs = { 0 };
	const char *p;

	(void)state;
	assert_null(rv_vsock_spec_parse("cid=3,socket=/run/v.sock", &vs, buf,
					sizeof(buf)));
	assert_true(vs.enabled);
	assert_int_equal(vs.cid, 3);
	assert_string_equal(vs.socket, "/run/v.sock");
	free(vs.socket);
	memset(&vs, 0, sizeof(vs));
	assert_null(
		rv_vsock_spec_parse("cid=4294967294", &vs, buf, sizeof(buf)));
	assert_int_equal(vs.cid, 0xfffffffeU);
	assert_null(vs.socket);
	memset(&vs, 0, sizeof(vs));
	p = rv_vsock_spec_parse("socket=a", &vs, buf, sizeof(buf));
	assert_string_equal(p, "'cid' is required (cid=N, 3 or more)");
	assert_false(vs.enabled);
	p = rv_vsock_spec_parse("cid=2", &vs, buf, sizeof(buf));
	assert_string_equal(
		p,
		"cid '2' is not a guest CID from 3 to 4294967294 (0-2 are reserved)");
	p = rv_vsock_spec_parse("cid=3,cid=4", &vs, buf, sizeof(buf));
	assert_string_equal(p, "'cid' given twice");
	p = rv_vsock_spec_parse("cid=3,port=4", &vs, buf, sizeof(buf));
	assert_string_equal(p, "unknown option 'port' (known: cid, socket)");
	p = rv_vsock_spec_parse("cid=3,sockt=a", &vs, buf, sizeof(buf));
	assert_string_equal(p,
			    "unknown option 'sockt' (did you mean 'socket'?)");
	p = rv_vsock_spec_parse("", &vs, buf, sizeof(buf));
	assert_string_equal(p, "empty SPEC (use cid=N[,socket=PATH])");
	assert_false(vs.enabled);
}

static void limit_spec_parse__keys(void **state)
{
	struct rv_limits_config lim = { 0 };

	(void)state;
	assert_null(rv_limit_spec_parse("memory=1G", &lim, buf, sizeof(buf)));
	assert_null(rv_limit_spec_parse("cpu=150", &lim, buf, sizeof(buf)));
	assert_null(rv_limit_spec_parse("cpuset=0-1", &lim, buf, sizeof(buf)));
	assert_null(rv_limit_spec_parse("cpuset=2", &lim, buf, sizeof(buf)));
	assert_null(rv_limit_spec_parse("pids=256", &lim, buf, sizeof(buf)));
	assert_int_equal(lim.memory, 1ULL << 30);
	assert_int_equal(lim.cpu_pct, 150);
	assert_string_equal(lim.cpuset, "2");
	assert_int_equal(lim.pids, 256);
	assert_string_equal(rv_limit_spec_parse("memory=8M", &lim, buf,
						sizeof(buf)),
			    "memory '8M' is below the minimum of 32M");
	assert_string_equal(
		rv_limit_spec_parse("cpu=0", &lim, buf, sizeof(buf)),
		"cpu '0' is not a percentage of one CPU from 1 to 25400");
	assert_string_equal(
		rv_limit_spec_parse("cpu=1.5", &lim, buf, sizeof(buf)),
		"cpu '1.5' is not a percentage of one CPU from 1 to 25400");
	assert_string_equal(
		rv_limit_spec_parse("cpuset=1-0", &lim, buf, sizeof(buf)),
		"cpuset '1-0' has the range 1-0, which runs backwards");
	assert_string_equal(rv_limit_spec_parse("pids=", &lim, buf,
						sizeof(buf)),
			    "'pids' needs a value");
	assert_string_equal(rv_limit_spec_parse("pid=3", &lim, buf,
						sizeof(buf)),
			    "unknown option 'pid' (did you mean 'pids'?)");
	assert_string_equal(
		rv_limit_spec_parse("256", &lim, buf, sizeof(buf)),
		"unknown option '256' (known: memory, cpu, cpuset, pids)");
	assert_string_equal(rv_limit_spec_parse("=1", &lim, buf, sizeof(buf)),
			    "expected KEY=VALUE (memory, cpu, cpuset or pids)");
	/* Refusals keep the earlier limits. */
	assert_int_equal(lim.memory, 1ULL << 30);
	assert_int_equal(lim.cpu_pct, 150);
	assert_int_equal(lim.pids, 256);
	free(lim.cpuset);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(forward_parse__full_form),
		cmocka_unit_test(forward_parse__empty_addresses),
		cmocka_unit_test(forward_parse__any_address_is_zero),
		cmocka_unit_test(forward_parse__bad_shapes),
		cmocka_unit_test(forward_parse__bad_parts),
		cmocka_unit_test(forward_format__round_trip),
		cmocka_unit_test(forward_clash__same_port_and_any_address),
		cmocka_unit_test(mac_parse__good_and_format),
		cmocka_unit_test(mac_parse__refused),
		cmocka_unit_test(mtu_problem__range),
		cmocka_unit_test(tap_name_problem__rules),
		cmocka_unit_test(cpuset_problem__lists),
		cmocka_unit_test(limit_values__ranges),
		cmocka_unit_test(net_spec_parse__user_with_everything),
		cmocka_unit_test(net_spec_parse__modes),
		cmocka_unit_test(net_spec_parse__refused),
		cmocka_unit_test(net_spec_parse__forward_limit),
		cmocka_unit_test(vsock_spec_parse__good_and_bad),
		cmocka_unit_test(limit_spec_parse__keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
