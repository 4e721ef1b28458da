#!/bin/sh
# netifd protocol handler for qcm: /lib/netifd/proto/qcm.sh (OpenWrt).
#
#   config interface 'wwan'
#           option proto 'qcm'
#           option apn 'internet'
#           option pdptype 'ipv4v6'      # ipv4 (default), ipv6, ipv4v6
#           option pincode '0123'        # given to qcm in its environment, never on its command line
#           option auth 'chap'           # none, pap, chap, both
#           option username 'user'
#           option password 'secret'
#           option profile '1'           # the modem's profile (PDN) index
#           option device '/dev/cdc-wdm0'   # control port, USB path (1-1.2), sysfs path, or interface
#           option delegate '0'          # do not hand the cellular /64 to downstream interfaces
#           option metric '10'           # and defaultroute, peerdns: as for every netifd protocol
#
# netifd runs qcm (through /lib/netifd/qcm-netifd) and supervises it: qcm keeps the connection up,
# and at every (re)connection /lib/netifd/qcm-hook reports the addresses, routes and DNS servers
# to netifd, which installs them (qcm itself adds no default route and leaves DNS alone here).
# A rejected PIN, a SIM needing its PUK, a wrong option or a missing permission stop netifd's
# retries (proto_block_restart): retrying could lock the SIM and cannot cure the others.

[ -n "$INCLUDE_ONLY" ] || {
	. ../netifd-proto.sh
	init_proto "$@"
}

QCM_NETIFD_BRIDGE=/lib/netifd/qcm-netifd
QCM_NETIFD_HOOK=/lib/netifd/qcm-hook

proto_qcm_init_config() {
	available=1
	no_device=1
	proto_config_add_string "device"
	proto_config_add_string "apn"
	proto_config_add_string "auth"
	proto_config_add_string "username"
	proto_config_add_string "password"
	proto_config_add_string "pincode"
	proto_config_add_string "pdptype"
	proto_config_add_int "profile"
	proto_config_add_boolean "delegate"
	proto_config_add_defaults
}

# The qcm options that pick the module the "device" option names.
proto_qcm_device_args() {
	local device="$1"
	case "$device" in
		"") ;;
		/dev/*) echo "--control $device" ;;
		/sys/*)  # the module's (or one of its interfaces') directory, as ModemManager's handler takes it
			device="${device%/}"
			proto_qcm_device_args "${device##*/}"
			;;
		[0-9]*-[0-9]*) echo "--usb-path ${device%%:*}" ;;
		*) echo "-i $device" ;;
	esac
}

proto_qcm_setup() {
	local interface="$1"
	local device apn auth username password pincode pdptype profile delegate
	json_get_vars device apn auth username password pincode pdptype profile delegate

	case "$device" in
		*[!A-Za-z0-9/._:-]*)
			echo "qcm: device '$device' is not a port, USB path, sysfs path or interface name"
			proto_notify_error "$interface" INVALID_DEVICE
			proto_block_restart "$interface"
			return 1
			;;
	esac

	set -- "$QCM_NETIFD_BRIDGE" "$QCM_NETIFD_HOOK" qcm connect --dns none --no-default-route
	# shellcheck disable=SC2046 # the words are options and a path without blanks (checked above)
	set -- "$@" $(proto_qcm_device_args "$device")

	case "$pdptype" in
		""|ip|ipv4) set -- "$@" -4 ;;
		ipv6) set -- "$@" -6 ;;
		ipv4v6|ipv4ipv6|dual) set -- "$@" -4 -6 ;;
		*)
			echo "qcm: unknown pdptype '$pdptype' (ipv4, ipv6 or ipv4v6)"
			proto_notify_error "$interface" INVALID_PDPTYPE
			proto_block_restart "$interface"
			return 1
			;;
	esac
	[ -n "$apn" ] && set -- "$@" -s "$apn"
	[ -n "$auth" ] && set -- "$@" --auth "$auth"
	[ -n "$profile" ] && set -- "$@" -n "$profile"

	# Secrets go in qcm's environment, where only root can read them, not in its arguments.
	[ -n "$pincode" ] && proto_export "QCM_PIN=$pincode"
	[ -n "$username" ] && proto_export "QCM_APN_USER=$username"
	[ -n "$password" ] && proto_export "QCM_APN_PASSWORD=$password"
	# What the hook needs to report to netifd.
	proto_export "QCM_NETIFD_INTERFACE=$interface"
	proto_export "QCM_NETIFD_DELEGATE=${delegate:-1}"

	proto_run_command "$interface" "$@"
}

proto_qcm_teardown() {
	local interface="$1"
	# SIGTERM: qcm stops the calls, removes what it configured and releases the modem's clients.
	proto_kill_command "$interface" 15
}

[ -n "$INCLUDE_ONLY" ] || {
	add_protocol qcm
}
