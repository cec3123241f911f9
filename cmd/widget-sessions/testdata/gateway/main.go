// Command gateway is what a gateway team writes to validate widget session
// tokens locally: the public module's verifier, its JWKS source and the
// revocation mirror on Redis, and nothing of the service. TestGatewayModule
// builds it as a module of its own against this checkout.
//
// It reads one session token per line on stdin and answers one line per
// token: "ok <sessionId>", or "refused <reason>".
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/causeflow/widget-sessions/pkg/jwks"
	"github.com/causeflow/widget-sessions/pkg/redis"
	"github.com/causeflow/widget-sessions/pkg/verify"
)

func main() {
	jwksURL := flag.String("jwks", "", "the service's /.well-known/jwks.json")
	redisURL := flag.String("redis", "", "the service's Redis")
	env := flag.String("env", "live", "the tokens' environment: live or test")
	issuer := flag.String("issuer", "https://sessions.causeflow.ai", "their iss")
	audience := flag.String("audience", "causeflow-widget", "their aud")
	insecure := flag.Bool("insecure-http", false, "allow an http:// JWKS URL (tests only)")
	flag.Parse()
	ctx := context.Background()

	keys, err := jwks.New(*jwksURL, jwks.Options{AllowInsecureHTTP: *insecure})
	if err != nil {
		log.Fatal(err)
	}
	if err := keys.Start(ctx); err != nil {
		log.Fatal(err)
	}
	client, err := redis.NewClient(*redisURL)
	if err != nil {
		log.Fatal(err)
	}
	// The service keeps revocations under "wrev-<env>".
	mirror, err := redis.NewRevocations(client, redis.Config{Namespace: "wrev-" + *env})
	if err != nil {
		log.Fatal(err)
	}
	if err := mirror.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer mirror.Close()
	v, err := verify.New(verify.Config{Env: *env, Issuer: *issuer, Audience: *audience}, keys, mirror)
	if err != nil {
		log.Fatal(err)
	}

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		claims, err := v.Verify(ctx, in.Text())
		if err != nil {
			fmt.Println("refused", err)
			continue
		}
		fmt.Println("ok", claims.SessionID)
	}
}
