# A recording stand-in for OpenWrt's /lib/netifd/netifd-proto.sh, for tests (run by dash).
#
# Every protocol function appends one line to $NETIFD_RECORD: its name and arguments, separated by
# tabs. The functions that talk to netifd also do what the real ones do: call
# "ubus call network.interface notify_proto JSON" (ubus being tests/openwrt/ubus, which records too),
# with the JSON fields of netifd's protocol (action 0 update: ifname, link-up, keep, ipaddr,
# ip6addr, routes, routes6, ip6prefix, dns; 1 run command: command, env; 2 kill: signal;
# 3 error: error; 4 block restart). json_get_vars reads the UCI options from CFG_<option>.

_record() {
	{
		printf '%s' "$1"
		shift
		for argument in "$@"; do
			printf '\t%s' "$argument"
		done
		printf '\n'
	} >> "$NETIFD_RECORD"
}

_json_string() {
	printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}

_json_strings() {  # a JSON array of the arguments
	local out="" item
	for item in "$@"; do
		out="${out:+$out,}$(_json_string "$item")"
	done
	printf '[%s]' "$out"
}

_notify() {  # interface, then the JSON members of the message
	local interface="$1"
	shift
	ubus call network.interface notify_proto "{$*,\"interface\":$(_json_string "$interface")}"
}

append() {
	local var="$1" value="$2"
	eval "$var=\"\${$var:+\${$var} }\$value\""
}

json_get_vars() {
	local name
	for name in "$@"; do
		eval "$name=\"\${CFG_$name}\""
	done
}

proto_config_add_string() { _record proto_config_add_string "$@"; }
proto_config_add_int() { _record proto_config_add_int "$@"; }
proto_config_add_boolean() { _record proto_config_add_boolean "$@"; }
proto_config_add_defaults() { _record proto_config_add_defaults; }

proto_init_update() {
	_record proto_init_update "$@"
	PROTO_IFNAME="$1"
	PROTO_UP="$2"
	PROTO_KEEP=0
	PROTO_IPADDR= PROTO_IP6ADDR= PROTO_ROUTE= PROTO_ROUTE6= PROTO_PREFIX6= PROTO_DNS=
}

proto_set_keep() { _record proto_set_keep "$@"; PROTO_KEEP="$1"; }

proto_add_ipv4_address() { _record proto_add_ipv4_address "$@"; append PROTO_IPADDR "$1/$2"; }
proto_add_ipv6_address() { _record proto_add_ipv6_address "$@"; append PROTO_IP6ADDR "$1/$2"; }
proto_add_ipv4_route() { _record proto_add_ipv4_route "$@"; append PROTO_ROUTE "$1/$2/$3/$4"; }
proto_add_ipv6_route() { _record proto_add_ipv6_route "$@"; append PROTO_ROUTE6 "$1/$2/$3/$6"; }
proto_add_ipv6_prefix() { _record proto_add_ipv6_prefix "$@"; append PROTO_PREFIX6 "$1"; }
proto_add_dns_server() { _record proto_add_dns_server "$@"; append PROTO_DNS "$1"; }

_addresses() {  # "address/mask ..." -> [{"ipaddr":..,"mask":..}, ...]
	local out="" item
	for item in $1; do
		out="${out:+$out,}{\"ipaddr\":$(_json_string "${item%%/*}"),\"mask\":$(_json_string "${item#*/}")}"
	done
	printf '[%s]' "$out"
}

_routes() {  # "target/mask/gateway/source ..." (the source may hold a /)
	local out="" item target mask gateway source
	for item in $1; do
		target="${item%%/*}"; item="${item#*/}"
		mask="${item%%/*}"; item="${item#*/}"
		gateway="${item%%/*}"; source="${item#*/}"
		out="${out:+$out,}{\"target\":$(_json_string "$target"),\"netmask\":$(_json_string "$mask")"
		[ -n "$gateway" ] && out="$out,\"gateway\":$(_json_string "$gateway")"
		[ -n "$source" ] && out="$out,\"source\":$(_json_string "$source")"
		out="$out}"
	done
	printf '[%s]' "$out"
}

proto_send_update() {
	_record proto_send_update "$@"
	local up=false
	[ "$PROTO_UP" = 1 ] && up=true
	# shellcheck disable=SC2086 # lists of words
	_notify "$1" "\"action\":0,\"ifname\":$(_json_string "$PROTO_IFNAME"),\"link-up\":$up,\"keep\":$PROTO_KEEP" \
		",\"ipaddr\":$(_addresses "$PROTO_IPADDR"),\"ip6addr\":$(_addresses "$PROTO_IP6ADDR")" \
		",\"routes\":$(_routes "$PROTO_ROUTE"),\"routes6\":$(_routes "$PROTO_ROUTE6")" \
		",\"ip6prefix\":$(_json_strings $PROTO_PREFIX6),\"dns\":$(_json_strings $PROTO_DNS)"
}

proto_export() {
	_record proto_export "$@"
	append _EXPORTED "$1"
}

proto_run_command() {
	local interface="$1"
	shift
	_record proto_run_command "$interface" "$@"
	# shellcheck disable=SC2086 # exported words hold no blanks in the tests
	_notify "$interface" "\"action\":1,\"command\":$(_json_strings "$@"),\"env\":$(_json_strings $_EXPORTED)"
}

proto_kill_command() {
	_record proto_kill_command "$@"
	_notify "$1" "\"action\":2${2:+,\"signal\":$2}"
}

proto_notify_error() {
	local interface="$1"
	shift
	_record proto_notify_error "$interface" "$@"
	_notify "$interface" "\"action\":3,\"error\":$(_json_strings "$@")"
}

proto_block_restart() {
	_record proto_block_restart "$@"
	_notify "$1" "\"action\":4"
}

init_proto() {
	proto="$1"
	cmd="$2"
	shift 2
	case "$cmd" in
		dump)
			add_protocol() {
				no_device=0
				available=0
				"proto_$1_init_config"
				_record add_protocol "$1" "available=$available" "no_device=$no_device"
			}
			;;
		setup|teardown)
			interface="$1"
			data="$2"
			ifname="$3"
			add_protocol() {
				[ "$proto" = "$1" ] || return 0
				"proto_$1_$cmd" "$interface" "$ifname"
			}
			;;
	esac
}
