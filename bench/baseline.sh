#!/usr/bin/env bash
# The unavoidable work of a MISP install from the offline bundle, done by a plain script with no
# checks and no idempotence: the yardstick bench/run divides site.yml's time by. Runs as root INSIDE
# a fresh Debian 12 container (bench/run copies it there), prints "STEP <name> <seconds>" per step.
#   BUNDLE=<bundle tarball> WHEELS=<directory of the bundle's wheels> PACKAGES="<Debian packages>" baseline.sh
# PACKAGES is the union of the roles' package lists (bench/run reads them from roles/*/vars).
set -euo pipefail
: "${BUNDLE:?}" "${WHEELS:?}" "${PACKAGES:?}"
M=/var/www/MISP
export DEBIAN_FRONTEND=noninteractive

T0=0
step() { T0=$(date +%s.%N); STEP=$1; }
done_() { printf 'STEP %s %.2f\n' "$STEP" "$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')"; }
cake() { runuser -u www-data -- "$M/app/Console/cake" "$@"; }

# Same apt defaults as the roles' ansible.builtin.apt (recommends as configured), one transaction.
step packages
apt-get update -q >/dev/null
# shellcheck disable=SC2086  # a word list on purpose
apt-get install -y -q $PACKAGES >/dev/null
done_

step unpack
install -d -m 0750 /var/www/.misp-stage
tar -xzf "$BUNDLE" -C /var/www/.misp-stage
mv /var/www/.misp-stage/MISP "$M"
install -m 0644 /var/www/.misp-stage/bundle.json "$M/bundle.json"
rm -rf /var/www/.misp-stage
chown -R www-data:www-data "$M"
done_

step database
DBPW=$(openssl rand -hex 16)
mysql -e "CREATE DATABASE misp CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
mysql -e "CREATE USER 'misp'@'localhost' IDENTIFIED BY '$DBPW'; GRANT ALL PRIVILEGES ON misp.* TO 'misp'@'localhost'"
mysql misp <"$M/INSTALL/MYSQL.sql"
done_

step config
for f in bootstrap core database config; do
  install -o www-data -g www-data -m 0640 "$M/app/Config/$f.default.php" "$M/app/Config/$f.php"
done
sed -i "s/'login' => 'db login'/'login' => 'misp'/; s/'password' => 'db password'/'password' => '$DBPW'/" \
  "$M/app/Config/database.php"
cake Admin setSetting SimpleBackgroundJobs.enabled true >/dev/null
done_

step runUpdates
cake Admin runUpdates >/dev/null
done_

step user-init
(umask 077 && cake user init >/root/admin_api_key)
done_

step updateJSON
cake Admin updateJSON >/dev/null
done_

step venv
runuser -u www-data -- /usr/bin/python3 -m venv "$M/venv"
runuser -u www-data -- "$M/venv/bin/pip" install --no-cache-dir --quiet --no-index --find-links "$WHEELS" \
  -r "$M/requirements.txt"
done_
