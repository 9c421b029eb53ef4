# bash completion for raevm(1).                          -*- shell-script -*-
#
# Commands and their flags come from the binary itself (`raevm help
# --commands`, `raevm help --flags COMMAND`), which reads them from the
# command table it shares with the daemon, so completion never falls behind.
# VM names come from the daemon (`raevm list --json`) under a one-second
# timeout, so a stopped or stuck daemon never hangs the shell.
#
# Installed as $(PREFIX)/share/bash-completion/completions/raevm.

# _raevm_vms RAEVM [--socket PATH]: the daemon's VM names, one per line.
_raevm_vms()
{
	local out
	out=$(timeout 1 "$@" list --json 2>/dev/null </dev/null) || return 0
	# VM names are [A-Za-z0-9._-] (raevm.manifest(5)): a plain match is
	# enough and cannot be fooled into printing anything else.
	grep -o '"name": *"[A-Za-z0-9._-]*"' <<<"$out" |
		sed 's/^"name": *"\(.*\)"$/\1/'
}

_raevm()
{
	local cur prev cword i cmd="" word
	local -a words sock=()

	if declare -F _get_comp_words_by_ref >/dev/null; then
		# Keeps "--socket=PATH" in one word.
		_get_comp_words_by_ref -n = cur prev words cword
	else
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
		cur=${words[cword]}
		prev=${words[cword - 1]}
	fi
	local raevm=${words[0]}

	# Find the command and any --socket given before the cursor.
	for ((i = 1; i < cword; i++)); do
		word=${words[i]}
		case $word in
		--socket)
			sock=(--socket "${words[i + 1]}")
			((i++))
			;;
		--socket=*) sock=("$word") ;;
		-o | --output | --timeout | --lines | -n | --name | --kernel | \
			--initrd | --cmdline | --cpus | --memory | \
			--cpu-template | --disk | --console-socket | --net | \
			--vsock | --limit)
			((i++))
			;;
		-*) ;;
		*) [ -z "$cmd" ] && cmd=$word ;;
		esac
	done

	case $prev in
	--socket | --kernel | --initrd | --console-socket | -o | --output | \
		--disk)
		COMPREPLY=($(compgen -f -- "$cur"))
		return 0
		;;
	--cpu-template)
		COMPREPLY=($(compgen -W "host baseline" -- "$cur"))
		return 0
		;;
	--net)
		# The mode starts a NIC SPEC; its options follow after commas.
		COMPREPLY=($(compgen -W "user user,forward= user,restrict \
			tap,name= none" -- "$cur"))
		compopt -o nospace 2>/dev/null
		return 0
		;;
	--vsock)
		COMPREPLY=($(compgen -W "cid=" -- "$cur"))
		compopt -o nospace 2>/dev/null
		return 0
		;;
	--limit)
		COMPREPLY=($(compgen -W "memory= cpu= cpuset= pids=" -- "$cur"))
		compopt -o nospace 2>/dev/null
		return 0
		;;
	--timeout | --lines | -n | --name | --cmdline | --cpus | --memory)
		return 0
		;;
	esac

	if [ -z "$cmd" ]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--socket --json --help --version" \
				-- "$cur"))
		else
			COMPREPLY=($(compgen -W "$("$raevm" help --commands \
				2>/dev/null)" -- "$cur"))
		fi
		return 0
	fi
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$("$raevm" help --flags "$cmd" \
			2>/dev/null)" -- "$cur"))
		return 0
	fi
	case $cmd in
	help)
		COMPREPLY=($(compgen -W "$("$raevm" help --commands \
			2>/dev/null)" -- "$cur"))
		;;
	create | import)
		COMPREPLY=($(compgen -f -- "$cur"))
		;;
	list | events | version) ;;
	*)
		COMPREPLY=($(compgen -W "$(_raevm_vms "$raevm" "${sock[@]}")" \
			-- "$cur"))
		;;
	esac
	return 0
}

complete -F _raevm raevm
