package redis_test

import (
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/causeflow/widget-sessions/pkg/redis"
)

func TestNewClient(t *testing.T) {
	cases := []struct {
		name    string
		url     string
		check   func(t *testing.T, c goredis.UniversalClient)
		wantErr bool
	}{
		{"one server with a database", "redis://127.0.0.1:6379/2", func(t *testing.T, c goredis.UniversalClient) {
			o := c.(*goredis.Client).Options()
			if o.Addr != "127.0.0.1:6379" || o.DB != 2 || o.TLSConfig != nil {
				t.Fatalf("options %+v", o)
			}
		}, false},
		{"TLS", "rediss://user:pw@cache.internal:6380", func(t *testing.T, c goredis.UniversalClient) {
			o := c.(*goredis.Client).Options()
			if o.TLSConfig == nil || o.Username != "user" || o.Password != "pw" {
				t.Fatalf("options %+v", o)
			}
		}, false},
		{"Sentinel", "redis://s1:26379?master_name=main&addr=s2:26379", func(t *testing.T, c goredis.UniversalClient) {
			if _, ok := c.(*goredis.Client); !ok {
				t.Fatalf("client %T; want a failover *goredis.Client", c)
			}
		}, false},
		{"Cluster", "redis+cluster://n1:6379?addr=n2:6379", func(t *testing.T, c goredis.UniversalClient) {
			if _, ok := c.(*goredis.ClusterClient); !ok {
				t.Fatalf("client %T; want *goredis.ClusterClient", c)
			}
		}, false},
		{"Cluster over TLS", "rediss+cluster://n1:6379", func(t *testing.T, c goredis.UniversalClient) {
			if _, ok := c.(*goredis.ClusterClient); !ok {
				t.Fatalf("client %T; want *goredis.ClusterClient", c)
			}
		}, false},
		{"unknown scheme", "http://user:secret@h:6379", nil, true},
		{"unknown option", "redis://user:secret@h:6379?bogus=1", nil, true},
		{"unparsable", "redis://user:secret@h:port", nil, true},
		{"bad database", "redis://user:secret@h:6379/x", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := redis.NewClient(tc.url)
			if tc.wantErr {
				if err == nil {
					_ = c.Close()
					t.Fatal("no error")
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("error %q repeats the password", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			tc.check(t, c)
		})
	}
}
