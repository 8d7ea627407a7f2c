#!/bin/bash
# The crash matrix (issue 5): the fault-injection build (build/pmemd-fault) aborts after every
# step of create (1-7), resize (1-4: size and inode limit at once) and delete (1-3), on an ext4 and an xfs pool; the release
# pmemd then started on the same pools must show the volume absent or whole (its size, its
# data), every earlier volume intact, nothing in staging or trash, project quota limits only
# for the ids of the volumes there are, allocated_bytes = the sum of their limits; and the
# operation retried succeeds. (Few processes per check: every exec is slow under TCG.)
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=lib/test.sh
. "$PMEMD_SRC/test/node/lib/test.sh"
# shellcheck source=lib/pmemd.sh
. "$PMEMD_SRC/test/node/lib/pmemd.sh"

MiB=$((1024 * 1024))
SIZE0=$((8 * MiB))  # a volume's size when made
SIZE1=$((12 * MiB)) # its size after the resize
INO0=1000           # its inode limit when made
INO1=2000           # ... and after the resize
OUT=$PWD/vapi.out
DATA=$PWD/data # 1 MiB of random bytes, copied into the volumes resized or deleted
ulimit -c 0         # the aborts dump no core
shopt -s nullglob dotglob # a folder's entries are globbed (a process costs much under TCG)
export LC_ALL=C           # ... and sorted as jq sorts

# The steps of each operation: the fault("volume_<op>", N) points of quota/quota-volumes.c.
declare -A STEPS=([create]=7 [resize]=4 [delete]=3)
# Volumes whose marker file was written and that must keep it: name -> pool.
declare -A MARKED=()

# vapi METHOD PATH [BODY]: prints the HTTP status (000: no answer); the body goes to $OUT.
vapi() {
	local args=()
	: >"$OUT"
	[[ -n ${3:-} ]] && args=(-H 'Content-Type: application/json' -d "$3")
	curl -s -o "$OUT" -w '%{http_code}' --max-time 60 --unix-socket "$PMEMD_SOCK" \
		-X "$1" "${args[@]}" "http://localhost$2"
}

# json_int KEY: the integer KEY of the last answer ($OUT), without a process.
json_int() {
	local body=
	read -r -d '' body <"$OUT"
	[[ $body =~ \"$1\":\ *([0-9]+) ]] && echo "${BASH_REMATCH[1]}"
}

# mark NAME MNT: writes the volume's marker file and remembers it.
mark() {
	echo "marker of $1" >"$2/$1/marker" && MARKED[$1]=$2
}

# consistent LABEL FS MNT: what every pool must show after a start.
consistent() {
	local l=$1 fs=$2 mnt=$3 n h bad
	pool_consistent "$l" "$fs" "$mnt"

	# Every volume given a marker still has it, as written.
	bad=
	for n in "${!MARKED[@]}"; do
		[[ ${MARKED[$n]} == "$mnt" ]] || continue
		h=missing
		[[ -f $mnt/$n/marker ]] && read -r h <"$mnt/$n/marker"
		[[ $h == "marker of $n" ]] || bad+=" $n: '$h'"
	done
	t_eq "$l: every earlier volume keeps its marker file" "${bad# }" ""
}

# volume_is LABEL MNT NAME absent|SIZE [data]: the volume does not exist at all, or exists
# whole: its size, its directory, and ("data" given) its marker and data file as written.
volume_is() {
	local l=$1 mnt=$2 name=$3 want=$4 data=${5:-} m=
	if [[ $want == absent ]]; then
		t_eq "$l: GET $name is 404" "$(vapi GET "/v1/volumes/$name")" 404
		t_check "$l: no $mnt/$name" test ! -e "$mnt/$name"
		return
	fi
	t_eq "$l: GET $name is 200" "$(vapi GET "/v1/volumes/$name")" 200
	t_eq "$l: size_bytes" "$(json_int size_bytes)" "$want"
	t_check "$l: $mnt/$name is a directory" test -d "$mnt/$name"
	if [[ -n $data ]]; then
		read -r m <"$mnt/$name/marker"
		t_eq "$l: the marker file is intact" "$m" "marker of $name"
		t_check "$l: the 1 MiB data file is intact" cmp "$DATA" "$mnt/$name/data"
	fi
}

# crash_case FS MNT OP STEP
crash_case() {
	local fs=$1 mnt=$2 op=$3 step=$4 name=crash-$3-$4-$1 l="$1 $3:$4" st rc data="" want n line logl
	local create="{\"name\":\"$name\",\"size_bytes\":$SIZE0,\"inodes\":$INO0,\"pool\":\"$mnt\"}"
	local resize="{\"size_bytes\":$SIZE1,\"inodes\":$INO1}" log=$PMEMD_LOG ino
	t_note "---- $l ----"
	pmemd_stop >/dev/null 2>&1
	PMEMD_LOG=$PWD/pmemd-fault-$fs-$op-$step.log
	pmemd_start_fault "$cfg" "volume_$op:$step" || {
		PMEMD_LOG=$log
		t_fail "$l: pmemd-fault starts"
		return
	}
	if [[ $op != create ]]; then
		t_eq "$l: a volume to $op is made (201)" "$(vapi POST /v1/volumes "$create")" 201
		mark "$name" "$mnt"
		cp "$DATA" "$mnt/$name/data"
		data=data
	fi
	case $op in
	create) st=$(vapi POST /v1/volumes "$create") ;;
	resize) st=$(vapi POST "/v1/volumes/$name/resize" "$resize") ;;
	delete)
		unset "MARKED[$name]"
		st=$(vapi DELETE "/v1/volumes/$name")
		;;
	esac
	pmemd_wait_exit 30
	rc=$?
	t_eq "$l: pmemd-fault aborts in the $op (HTTP $st; exit status)" "$rc" 134
	st=no
	while read -r line; do
		[[ $line == *"event=fault_injected op=volume_$op step=$step" ]] && st=yes
	done <"$PMEMD_LOG"
	t_eq "$l: ... at the injected fault (logged)" "$st" yes
	PMEMD_LOG=$log
	mapfile -t logl <"$PMEMD_LOG"
	n=${#logl[@]}
	pmemd_start "$cfg" || {
		t_fail "$l: pmemd restarts after the crash"
		return
	}
	t_ok "$l: pmemd restarts after the crash"
	# The start repairs what this crash left, and nothing of any other volume.
	mapfile -t -s "$n" logl <"$PMEMD_LOG"
	st=
	for line in "${logl[@]}"; do
		[[ $line == *event=volume_repaired* ]] || continue
		t_note "$l: ${line#*event=}"
		[[ $line == *"rel=$name "* || $line == *"rel=.pmemd/"*"/$name"* ]] || st+=" ${line#*rel=}"
	done
	t_eq "$l: the start repaired nothing else" "${st# }" ""

	# What the restart must find: the old state before the operation's commit point (the
	# rename into place for create, the rename into trash for delete, the size record for
	# resize), the new state after it. A resize writes the size record, then the inode
	# record: after step 3 the size is new and the inode limit still old (quota and record
	# agreeing), after step 4 both are new.
	ino=$INO0
	case $op:$step in
	create:7) want=$SIZE0 ;;
	create:*) want=absent ;;
	resize:3) want=$SIZE1 ;;
	resize:4) want=$SIZE1 ino=$INO1 ;;
	resize:*) want=$SIZE0 ;;
	delete:*) want=absent ;;
	esac
	volume_is "$l" "$mnt" "$name" "$want" "$data"
	[[ $want == absent ]] || t_eq "$l: inodes" "$(json_int inodes)" "$ino"
	consistent "$l" "$fs" "$mnt"

	# The client never got an answer: it retries, and that succeeds. The volume stays, so
	# the next cases check it is untouched by their crashes.
	case $op in
	create)
		if [[ $want == absent ]]; then st=201; else st=200; fi
		t_eq "$l: the create retried is $st" "$(vapi POST /v1/volumes "$create")" $st
		t_eq "$l: ... size_bytes" "$(json_int size_bytes)" $SIZE0
		mark "$name" "$mnt"
		;;
	resize)
		t_eq "$l: the resize retried is 200" "$(vapi POST "/v1/volumes/$name/resize" "$resize")" 200
		t_eq "$l: ... size_bytes" "$(json_int size_bytes)" $SIZE1
		t_eq "$l: ... inodes" "$(json_int inodes)" $INO1
		;;
	delete)
		# A 404 changes nothing: the checks above hold.
		t_eq "$l: the delete retried is 404 (gone)" "$(vapi DELETE "/v1/volumes/$name")" 404
		return
		;;
	esac
	consistent "$l: after the retry" "$fs" "$mnt"
}

cfg=$PWD/pmemd.yaml
pmemd_config "$cfg" "pools:
  - name: /mnt/pmem0
    regions: [region0]
  - name: /mnt/pmem1
    regions: [region1]
    topology:
      fstype: xfs"

head -c $MiB /dev/urandom >"$DATA"
t_check "the fault-injection build is there ($PMEMD_FAULT_BIN)" test -x "$PMEMD_FAULT_BIN"
t_check "... and has the fault points" grep -q fault_injected "$PMEMD_FAULT_BIN"
t_check "the release pmemd has none" bash -c "! grep -q fault_injected '$PMEMD_BIN'"
pmemd_start "$cfg" || t_fatal "pmemd starts (and makes the pools)"
t_ok "pmemd starts and is ready"
# A volume in each pool made before any crash: no crash may touch it.
for mnt in /mnt/pmem0 /mnt/pmem1; do
	t_eq "a bystander volume in $mnt is made" "$(vapi POST /v1/volumes \
		"{\"name\":\"bystander-${mnt#/mnt/}\",\"size_bytes\":$((4 * MiB)),\"pool\":\"$mnt\"}")" 201
	mark "bystander-${mnt#/mnt/}" "$mnt"
done

for pair in ext4:/mnt/pmem0 xfs:/mnt/pmem1; do
	for op in create resize delete; do
		for ((step = 1; step <= STEPS[$op]; step++)); do
			crash_case "${pair%%:*}" "${pair#*:}" "$op" "$step"
		done
	done
done

t_note "---- after every case: a clean restart repairs nothing ----"
pmemd_stop
t_eq "pmemd stops with 0" "$?" 0
n=$(wc -l <"$PMEMD_LOG")
pmemd_start "$cfg" || t_fatal "pmemd restarts"
t_eq "no repair at the last start" "$(tail -n +$((n + 1)) "$PMEMD_LOG" | grep 'event=volume_repaired')" ""
consistent "ext4 at the end" ext4 /mnt/pmem0
consistent "xfs at the end" xfs /mnt/pmem1
pmemd_stop
pmemd_done
