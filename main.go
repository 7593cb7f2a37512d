// Command terraform-provider-release serves the release provider to Terraform.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/releaseplan/terraform-provider-release/internal/provider"
)

// version is set by the build (goreleaser or -ldflags "-X main.version=...").
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()

	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/releaseplan/release",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err.Error())
	}
}
