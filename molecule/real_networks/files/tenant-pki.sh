#!/bin/sh
# The PKI of the gateway's other tenant, a road-warrior OpenVPN server sixtunnel did not create, laid out
# as common installers do: its CA, server certificate and CRL in /etc/openvpn/server/roadwarrior (0755,
# the CRL world-readable: the server re-reads it as nobody). Two client certificates for the tests,
# outside the server's directory: `client`, and `late`, whom the tests revoke after the collection ran.
# Runs once: an existing CRL means the PKI is there.
set -eu
server_dir=/etc/openvpn/server/roadwarrior
clients_dir=/root/roadwarrior-clients
if [ -f "$server_dir/crl.pem" ]; then
  exit 0
fi
install -d -m 0755 -o root -g root /etc/openvpn/server "$server_dir"
install -d -m 0700 -o root -g root "$clients_dir"
cd "$server_dir"
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
  -subj /CN=roadwarrior-ca -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign -keyout ca.key -out ca.crt 2>/dev/null
issue() {  # name, extendedKeyUsage, directory
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$1" \
    -keyout "$3/$1.key" -out "$3/$1.csr" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=%s\n' "$2" > "$3/$1.ext"
  openssl x509 -req -days 30 -in "$3/$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
    -extfile "$3/$1.ext" -out "$3/$1.crt" 2>/dev/null
  rm "$3/$1.csr" "$3/$1.ext"
}
issue server serverAuth "$server_dir"
issue client clientAuth "$clients_dir"
issue late clientAuth "$clients_dir"
cp ca.crt "$clients_dir/ca.crt"
cat > ca.cnf <<CNF
[ca]
default_ca = roadwarrior
[roadwarrior]
database = $server_dir/index.txt
crlnumber = $server_dir/crlnumber
private_key = $server_dir/ca.key
certificate = $server_dir/ca.crt
default_md = sha256
default_crl_days = 30
CNF
: > index.txt
echo 01 > crlnumber
openssl ca -batch -config ca.cnf -gencrl -out crl.pem 2>/dev/null
chmod 0644 ca.crt server.crt crl.pem
