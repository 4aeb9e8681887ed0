# Sourced by ./test: makes sure the programs the tests run for real are installed before anything runs.
# As root (CI, a fresh container) it installs what is missing from Debian's packages; otherwise it stops
# with one line per missing program saying exactly what to install. Add a program here when a test
# starts running it (etcd, Azurite, BIND, Nagios, Chromium): one `bulwark_need` line each.

bulwark_missing_packages=()
bulwark_missing_lines=()

# bulwark_need COMMAND DEBIAN-PACKAGE WHY: COMMAND found on PATH or in /usr/sbin, or PACKAGE is needed
bulwark_need() {
  local cmd=$1 package=$2 why=$3
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] && return 0
  bulwark_missing_packages+=("$package")
  bulwark_missing_lines+=("bulwark: the tests need $cmd ($why): install it with \`sudo apt-get install $package\`")
}

# Azurite (Microsoft's Azure Storage emulator) from npm: installed globally as root, else named
bulwark_need_azurite() {
  command -v azurite-blob >/dev/null 2>&1 || [ -x /usr/bin/azurite-blob ] || [ -x /usr/local/bin/azurite-blob ] && return 0
  if [ "$(id -u)" -eq 0 ] && command -v npm >/dev/null 2>&1; then
    echo "bulwark: installing Azurite for the storage tests: npm install -g azurite@3.37" >&2
    npm install -g --no-fund --no-audit azurite@3.37 >&2 && return 0
    echo "bulwark: npm could not install azurite@3.37; install it and run ./test again" >&2
    return 1
  fi
  echo "bulwark: the tests need Azurite (StorageRegionDrillTest, AzureBlobStoreTest): install it with \`npm install -g azurite@3.37\`" >&2
  return 1
}

bulwark_test_prereqs() {
  bulwark_need mvn maven "builds and runs the tests"
  # the load-balancer drills run the same failover through the system's HAProxy (2.6+)
  bulwark_need haproxy haproxy "LoadBalancerDrillsTest, the --lb haproxy drills"
  # the cluster's coordination runs on a real etcd (EtcdLeaseStoreTest: a three-member cluster, quorum loss)
  bulwark_need etcd etcd-server "EtcdLeaseStoreTest and the cluster drills"
  # the DNS front door runs the real BIND 9 (named, started unprivileged by the tests), resolved with dig
  bulwark_need named bind9 "Rfc2136ProviderTest, DnsControllerTest, DnsFrontDoorDrillTest"
  bulwark_need dig bind9-dnsutils "the DNS drills resolve the name through BIND as a client does"
  # NagiosTest runs the real Nagios 4 on the configuration `bulwark nagios-config` writes
  bulwark_need nagios4 nagios4-core "NagiosTest"
  # the storage regions run the real Azurite (npm); Node.js itself must be there
  bulwark_need node nodejs "the storage drills run Azurite on Node.js"
  bulwark_need npm npm "installs Azurite"
  # as root, PostgreSQL runs under an unprivileged user namespace (util-linux's unshare)
  [ "$(id -u)" -eq 0 ] && bulwark_need unshare util-linux "PostgreSQL refuses to run as root; it runs under unshare -U"
  if [ ${#bulwark_missing_packages[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "bulwark: installing what the tests need: ${bulwark_missing_packages[*]}" >&2
      if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${bulwark_missing_packages[@]}" >&2; }; then
        echo "bulwark: apt-get could not install ${bulwark_missing_packages[*]}; install them and run ./test again" >&2
        return 1
      fi
    else
      printf '%s\n' "${bulwark_missing_lines[@]}" >&2
      return 1
    fi
  fi
  bulwark_need_azurite  # after apt-get: it needs npm
}
