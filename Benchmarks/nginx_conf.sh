#!/usr/bin/env bash
# Writes DIR/nginx.conf: nginx with WORKERS workers on 127.0.0.1:PORT answering
# `POST /v1/events` and `POST /hook` with a static `202 {"id":"x"}` (no durability):
# the HTTP ceiling our server is compared with.
# Usage: nginx_conf.sh WORKERS DIR [PORT=18080]
set -euo pipefail
workers=${1:-1}
dir=${2:-/tmp/gateway-bench-nginx}
port=${3:-18080}
mkdir -p "$dir"/{body,proxy,fastcgi,uwsgi,scgi}
cat > "$dir/nginx.conf" <<CONF
worker_processes $workers;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 65s;
  client_body_buffer_size 16k;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy; fastcgi_temp_path $dir/fastcgi; uwsgi_temp_path $dir/uwsgi; scgi_temp_path $dir/scgi;
  server {
    listen 127.0.0.1:$port backlog=4096;
    location = /v1/events { default_type application/json; return 202 '{"id":"x"}'; }
    location = /hook      { default_type application/json; return 202 '{"id":"x"}'; }
  }
}
CONF
echo "$dir/nginx.conf"
