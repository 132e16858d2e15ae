#!/bin/sh
# Writes ../jmeter/shop-csv.jtl and ../jmeter/shop-xml.jtl: JMeter 2.13 (Debian bookworm's
# `jmeter` package), non-GUI, running shop_plan.jmx against shop_server.py, once with the
# CSV result format (with its header line) and once with the XML one. JMeter's console
# output of each run (its summariser's totals) goes to shop-csv.console.txt / shop-xml.console.txt.
#
# Debian's JMeter 2.13 cannot load any test plan with bookworm's XStream 1.4.20
# (ForbiddenClassException: org.apache.jmeter.save.ScriptWrapper), so JMeter is started
# through jmeter_xstream_fix/AllowJmx.java, which only allows JMeter's classes in XStream
# and then calls JMeter's own main class (org.apache.jmeter.NewDriver) with these arguments.
# Needs: apt-get install jmeter openjdk-17-jdk-headless (javac).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
PORT=${PORT:-8782}
out="$here/../jmeter"
build=$(mktemp -d)
mkdir -p "$out"
rm -f "$out"/shop-*
javac -d "$build" -cp /usr/share/jmeter/bin/ApacheJMeter.jar:/usr/share/java/xstream.jar \
  "$here/jmeter_xstream_fix/AllowJmx.java"
python3 "$here/shop_server.py" "$PORT" &
server=$!
trap 'kill $server; rm -rf "$build"' EXIT
sleep 1
jmeter() {
  java -Djmeter.home=/usr/share/jmeter -cp "/usr/share/jmeter/bin/ApacheJMeter.jar:$build" \
    AllowJmx "$@"
}
cd "$out"
jmeter -n -t "$here/shop_plan.jmx" -Jport="$PORT" -l shop-csv.jtl -j "$build/csv.log" \
  -Jjmeter.save.saveservice.output_format=csv -Jjmeter.save.saveservice.print_field_names=true \
  | tee shop-csv.console.txt
jmeter -n -t "$here/shop_plan.jmx" -Jport="$PORT" -l shop-xml.jtl -j "$build/xml.log" \
  -Jjmeter.save.saveservice.output_format=xml | tee shop-xml.console.txt
