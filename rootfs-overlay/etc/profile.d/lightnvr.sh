# Login banner on the serial console: the product, then one line per diagnostics
# section (the full report: lightnvr diag).
if [ -t 1 ] && [ -x /usr/bin/lightnvr ]; then
	echo "$(head -n1 /etc/lightnvr-release 2>/dev/null) - $(hostname)"
	timeout 60 /usr/bin/lightnvr diag --brief 2>&1
	echo "Full report: lightnvr diag   (machine-readable: lightnvr diag --json)"
fi
