# Sourced by the load benches: `start_nginx WORKDIR PORT CPU [KEEPALIVE]` starts nginx with one
# worker on core CPU, answering `200 ok` on 127.0.0.1:PORT with no access log (its pid in $!).
# KEEPALIVE `off` closes every connection after its response, so each request connects.
start_nginx() {
  local work=$1 port=$2 cpu=$3 keepalive=${4:-on} timeout=75s
  [ "$keepalive" = off ] && timeout=0
  cat >"$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
master_process off;
error_log $work/error.log warn;
pid $work/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000000;
  keepalive_timeout $timeout;
  client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work;
  uwsgi_temp_path $work; scgi_temp_path $work;
  server { listen 127.0.0.1:$port backlog=4096; location / { default_type text/plain; return 200 "ok"; } }
}
CONF
  taskset -c "$cpu" nginx -p "$work" -c "$work/nginx.conf" &
}
