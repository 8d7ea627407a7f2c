# shellcheck shell=bash
# Helpers shared by the CLI tests (test/cli/test-*.sh source this after cd to the repo root).

# free_port: a TCP port on 127.0.0.1 nobody listens on. Below the kernel's ephemeral range: a
# port there can be taken by any client's connection between this probe and pmemd's bind.
free_port() {
	local p lo
	read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
	((lo > 20100)) || lo=32768
	for p in $(shuf -i 20000-$((lo - 1)) -n 50); do
		if ! (echo >/dev/tcp/127.0.0.1/"$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	return 1
}
