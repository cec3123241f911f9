package main

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/causeflow/widget-sessions/internal/config"
)

// manifests are the rendered objects, decoded strictly.
type manifests struct {
	deployments  []appsv1.Deployment
	statefulSets []appsv1.StatefulSet
	services     []corev1.Service
	hpas         []autoscalingv2.HorizontalPodAutoscaler
	pdbs         []policyv1.PodDisruptionBudget
	configMaps   []corev1.ConfigMap
	policies     []networkingv1.NetworkPolicy
	accounts     []corev1.ServiceAccount
}

// strict decodes one object's YAML into v as the API server's strict
// field validation does: case-sensitive, refusing a field v's type does not
// have and a field given twice. A typo in a manifest is an error here, not
// a field the API server drops.
func strict(doc []byte, v any) error {
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return err
	}
	strictErrs, err := kjson.UnmarshalStrict(j, v, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}

// decodeInto decodes doc strictly as a T and appends it to list.
func decodeInto[T any](doc []byte, list []T) ([]T, error) {
	var v T
	if err := strict(doc, &v); err != nil {
		return list, err
	}
	return append(list, v), nil
}

func renderManifests(t *testing.T) manifests {
	t.Helper()
	return render(t, filepath.Join("..", "..", "deploy", "k8s"))
}

// render builds the kustomization in dir and decodes its objects strictly.
func render(t *testing.T, dir string) manifests {
	t.Helper()
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := res.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	var m manifests
	for _, doc := range bytes.Split(out, []byte("\n---\n")) {
		var head struct{ Kind string }
		if err := yaml.Unmarshal(doc, &head); err != nil {
			t.Fatal(err)
		}
		var err error
		switch head.Kind {
		case "Deployment":
			m.deployments, err = decodeInto(doc, m.deployments)
		case "StatefulSet":
			m.statefulSets, err = decodeInto(doc, m.statefulSets)
		case "Service":
			m.services, err = decodeInto(doc, m.services)
		case "HorizontalPodAutoscaler":
			m.hpas, err = decodeInto(doc, m.hpas)
		case "PodDisruptionBudget":
			m.pdbs, err = decodeInto(doc, m.pdbs)
		case "ConfigMap":
			m.configMaps, err = decodeInto(doc, m.configMaps)
		case "NetworkPolicy":
			m.policies, err = decodeInto(doc, m.policies)
		case "ServiceAccount":
			m.accounts, err = decodeInto(doc, m.accounts)
		default:
			t.Errorf("a %q the test does not check:\n%s", head.Kind, doc)
		}
		if err != nil {
			t.Errorf("%s does not decode strictly: %v\n%s", head.Kind, err, doc)
		}
	}
	return m
}

// TestKubernetesManifests renders deploy/k8s with kustomize, decodes every
// object strictly into the k8s.io/api types, and checks what an operator
// relies on: every WIDGET_* variable is one the service reads, the probes
// hit the internal listener, the pods run as non-root on a read-only root
// filesystem with nothing extra allowed, the Redis URL and the signing keys
// come from Secrets, and each Service, PDB and HPA selects the pods it
// means, and only those.
func TestKubernetesManifests(t *testing.T) {
	m := renderManifests(t)
	if len(m.statefulSets) != 0 {
		t.Errorf("the single-region deployment runs %d StatefulSets", len(m.statefulSets))
	}
	if len(m.deployments) != 2 || len(m.services) != 2 || len(m.hpas) != 2 || len(m.pdbs) != 2 || len(m.policies) != 1 || len(m.configMaps) != 1 {
		t.Fatalf("rendered %d Deployments, %d Services, %d HPAs, %d PDBs, %d NetworkPolicies, %d ConfigMaps; want 2, 2, 2, 2, 1, 1",
			len(m.deployments), len(m.services), len(m.hpas), len(m.pdbs), len(m.policies), len(m.configMaps))
	}
	table := config.MarkdownTable()
	known := func(name string) bool { return strings.Contains(table, "| `"+name+"` |") }
	for name := range m.configMaps[0].Data {
		if !known(name) {
			t.Errorf("ConfigMap sets %s, which is not in the configuration table", name)
		}
	}
	internalPort := int32(9090) // the ConfigMap's WIDGET_INTERNAL_ADDR
	if a := m.configMaps[0].Data["WIDGET_INTERNAL_ADDR"]; a != "0.0.0.0:9090" {
		t.Fatalf("WIDGET_INTERNAL_ADDR = %q, want 0.0.0.0:9090", a)
	}

	surfaces := map[string]appsv1.Deployment{}
	for _, d := range m.deployments {
		name := d.Name
		spec := d.Spec.Template.Spec
		if len(spec.Containers) != 1 {
			t.Fatalf("%s: %d containers", name, len(spec.Containers))
		}
		c := spec.Containers[0]
		env := map[string]corev1.EnvVar{}
		for _, e := range c.Env {
			env[e.Name] = e
			if !known(e.Name) {
				t.Errorf("%s sets %s, which is not in the configuration table", name, e.Name)
			}
		}
		serve := env["WIDGET_SERVE"].Value
		surfaces[serve] = d
		if ref := env["WIDGET_REDIS_URL"].ValueFrom; ref == nil || ref.SecretKeyRef == nil {
			t.Errorf("%s: WIDGET_REDIS_URL is not from a Secret", name)
		}
		if serve == "api" {
			keysFromSecret := false
			for _, v := range spec.Volumes {
				keysFromSecret = keysFromSecret || (v.Secret != nil && strings.HasPrefix(env["WIDGET_SIGNING_KEYS"].Value, "/keys/"))
			}
			if !keysFromSecret || env["WIDGET_SIGNING_KID_FILE"].Value == "" {
				t.Errorf("%s: the signing keys and active kid are not files from a Secret", name)
			}
		}
		ports := map[string]int32{}
		for _, p := range c.Ports {
			ports[p.Name] = p.ContainerPort
		}
		for what, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
			if p == nil || p.HTTPGet == nil {
				t.Errorf("%s: no HTTP %s probe", name, what)
				continue
			}
			port := p.HTTPGet.Port.IntVal
			if p.HTTPGet.Port.StrVal != "" {
				port = ports[p.HTTPGet.Port.StrVal]
			}
			if port != internalPort || !slices.Contains([]string{"/healthz", "/readyz"}, p.HTTPGet.Path) {
				t.Errorf("%s: %s probe on %d%s, want /healthz or /readyz on the internal port %d", name, what, port, p.HTTPGet.Path, internalPort)
			}
		}
		psc, sc := spec.SecurityContext, c.SecurityContext
		switch {
		case psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0:
			t.Errorf("%s: the pod does not run as a non-root user", name)
		case sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Errorf("%s: the root filesystem is not read-only", name)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL"):
			t.Errorf("%s: privilege escalation allowed or capabilities kept", name)
		case c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero():
			t.Errorf("%s: no resource requests", name)
		}
		if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("%s: its selector does not match its own pods: %v", name, err)
		}
	}
	if len(surfaces) != 2 || surfaces["api"].Name == "" || surfaces["edge"].Name == "" {
		t.Fatalf("the Deployments serve %v, want api and edge", slices.Sorted(maps.Keys(surfaces)))
	}

	// selects says which Deployments' pods a label selector picks.
	selects := func(sel map[string]string) []string {
		var out []string
		for _, d := range m.deployments {
			if labels.SelectorFromSet(sel).Matches(labels.Set(d.Spec.Template.Labels)) {
				out = append(out, d.Name)
			}
		}
		return out
	}
	for _, s := range m.services {
		if got := selects(s.Spec.Selector); !slices.Equal(got, []string{s.Name}) {
			t.Errorf("Service %s selects the pods of %v, want only %s's", s.Name, got, s.Name)
		}
	}
	for _, p := range m.pdbs {
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		var got []string
		for _, d := range m.deployments {
			if err == nil && sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				got = append(got, d.Name)
			}
		}
		if !slices.Equal(got, []string{p.Name}) {
			t.Errorf("PDB %s covers the pods of %v, want only %s's", p.Name, got, p.Name)
		}
	}
	for _, h := range m.hpas {
		if ref := h.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != h.Name || h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 {
			t.Errorf("HPA %s scales %s %s (min %v), want its Deployment, from 2 replicas", h.Name, ref.Kind, ref.Name, h.Spec.MinReplicas)
		}
	}
	if sel := m.policies[0].Spec.PodSelector; len(selects(sel.MatchLabels)) != 2 {
		t.Errorf("the NetworkPolicy covers %v, want both Deployments", selects(sel.MatchLabels))
	}

	// Behind the ingress, a stream's client is the address the ingress
	// vouches for, not the ingress pod: proxies are trusted.
	if p := m.configMaps[0].Data["WIDGET_TRUSTED_PROXIES"]; p == "" {
		t.Error("the ConfigMap trusts no proxy: every stream's client would be an ingress pod")
	}
	if typ := m.configMaps[0].Data["WIDGET_CALLER_TYP"]; typ == "" {
		t.Error("the ConfigMap does not pin WIDGET_CALLER_TYP")
	}
	checkEgress(t, m.policies[0])
}

// checkEgress requires every egress rule of policy to name where it goes
// (a rule without "to" admits any address), and no address block to admit
// the cloud metadata address, private ranges (the API server, other pods)
// or loopback.
func checkEgress(t *testing.T, policy networkingv1.NetworkPolicy) {
	t.Helper()
	if !slices.Contains(policy.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) || len(policy.Spec.Egress) == 0 {
		t.Fatal("the NetworkPolicy does not restrict egress")
	}
	forbidden := []string{"169.254.169.254", "10.0.0.1", "10.96.0.1", "172.20.0.1", "192.168.1.1", "100.64.0.1", "127.0.0.1"}
	for i, rule := range policy.Spec.Egress {
		if len(rule.To) == 0 {
			t.Errorf("egress rule %d has no \"to\": it admits every address on %v", i, rule.Ports)
		}
		if len(rule.Ports) == 0 {
			t.Errorf("egress rule %d admits every port", i)
		}
		for _, peer := range rule.To {
			if peer.IPBlock == nil {
				if peer.NamespaceSelector == nil || len(peer.NamespaceSelector.MatchLabels) == 0 {
					t.Errorf("egress rule %d admits the pods of every namespace", i)
				}
				continue
			}
			_, block, err := net.ParseCIDR(peer.IPBlock.CIDR)
			if err != nil {
				t.Fatalf("egress rule %d: %v", i, err)
			}
			for _, addr := range forbidden {
				ip := net.ParseIP(addr)
				if !block.Contains(ip) {
					continue
				}
				excepted := false
				for _, e := range peer.IPBlock.Except {
					if _, ex, err := net.ParseCIDR(e); err == nil && ex.Contains(ip) {
						excepted = true
					}
				}
				if !excepted {
					t.Errorf("egress rule %d admits %s", i, addr)
				}
			}
		}
	}
}

// TestKubernetesRegionOverlay renders deploy/regions/eu, one region of
// a deployment in several (docs/multi-region.md), decodes it strictly, and
// checks what the regions rely on: the replicas name their region and use
// their region's etcd member over TLS, with the CA and a client
// certificate mounted read-only where the settings say; the policy lets
// them reach the member; the member is tuned as the documentation says
// (election ten times the heartbeat), requires client certificates on both
// ports, keeps its data on a volume and runs locked down.
func TestKubernetesRegionOverlay(t *testing.T) {
	m := render(t, filepath.Join("..", "..", "deploy", "regions", "eu"))
	if len(m.deployments) != 2 || len(m.statefulSets) != 1 || len(m.configMaps) != 1 {
		t.Fatalf("rendered %d Deployments, %d StatefulSets, %d ConfigMaps; want 2, 1, 1", len(m.deployments), len(m.statefulSets), len(m.configMaps))
	}
	data := m.configMaps[0].Data
	table := config.MarkdownTable()
	for name := range data {
		if !strings.Contains(table, "| `"+name+"` |") {
			t.Errorf("ConfigMap sets %s, which is not in the configuration table", name)
		}
	}
	env := map[string]string{}
	for k, v := range data {
		env[k] = v
	}
	// The API's pods: the ConfigMap, then their own variables (a Secret's
	// value stands in as a placeholder of the right form).
	for _, d := range m.deployments {
		if d.Name != "widget-sessions-api" {
			continue
		}
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			switch {
			case e.Value != "":
				env[e.Name] = e.Value
			case e.Name == "WIDGET_REDIS_URL":
				env[e.Name] = "rediss://redis:6379"
			}
		}
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("the overlay's settings do not load as live: %v", err)
	}
	if cfg.Revocation.Region != "eu" || !strings.HasPrefix(cfg.Revocation.Etcd, "etcds://") {
		t.Errorf("region %q, store %q: want eu on etcds://", cfg.Revocation.Region, cfg.Revocation.Etcd)
	}
	for _, d := range m.deployments {
		mounts := map[string]corev1.VolumeMount{}
		for _, vm := range d.Spec.Template.Spec.Containers[0].VolumeMounts {
			mounts[vm.Name] = vm
		}
		vm, ok := mounts["etcd-tls"]
		if !ok || !vm.ReadOnly {
			t.Fatalf("%s: the etcd TLS volume is not mounted read-only: %+v", d.Name, mounts)
		}
		for _, f := range []string{cfg.Revocation.EtcdCA, cfg.Revocation.EtcdCert, cfg.Revocation.EtcdKey} {
			if !strings.HasPrefix(f, vm.MountPath+"/") {
				t.Errorf("%s: %s is not under the mount %s", d.Name, f, vm.MountPath)
			}
		}
	}
	reaches := false
	for _, e := range m.policies[0].Spec.Egress {
		for _, p := range e.Ports {
			reaches = reaches || (p.Port != nil && p.Port.IntValue() == 2379)
		}
	}
	if !reaches {
		t.Error("the NetworkPolicy does not let the replicas reach etcd (2379)")
	}

	ss := m.statefulSets[0]
	c := ss.Spec.Template.Spec.Containers[0]
	flags := map[string]string{}
	for _, a := range c.Args {
		k, v, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		flags[k] = v
	}
	heartbeat, election := flags["heartbeat-interval"], flags["election-timeout"]
	var hb, el int
	if _, err := fmt.Sscan(heartbeat, &hb); err != nil || hb <= 0 {
		t.Fatalf("heartbeat-interval %q", heartbeat)
	}
	if _, err := fmt.Sscan(election, &el); err != nil || el < 10*hb {
		t.Errorf("election-timeout %q: want at least ten heartbeats (%d ms)", election, 10*hb)
	}
	if time.Duration(el)*time.Millisecond+time.Second >= cfg.Revocation.Staleness {
		t.Errorf("the staleness budget %v does not exceed an election (%d ms) and a poll", cfg.Revocation.Staleness, el)
	}
	for _, f := range []string{"client-cert-auth", "peer-client-cert-auth"} {
		if _, ok := flags[f]; !ok {
			t.Errorf("the member does not require client certificates: --%s missing", f)
		}
	}
	for _, f := range []string{"listen-client-urls", "advertise-client-urls", "listen-peer-urls", "initial-advertise-peer-urls"} {
		if !strings.HasPrefix(flags[f], "https://") {
			t.Errorf("--%s=%s is not TLS", f, flags[f])
		}
	}
	if !strings.Contains(flags["initial-cluster"], "eu="+flags["initial-advertise-peer-urls"]) || strings.Count(flags["initial-cluster"], "=") != 3 {
		t.Errorf("--initial-cluster=%s: want three members, this one at its advertised peer URL", flags["initial-cluster"])
	}
	if len(ss.Spec.VolumeClaimTemplates) != 1 || ss.Spec.Template.Spec.SecurityContext == nil || !*ss.Spec.Template.Spec.SecurityContext.RunAsNonRoot ||
		c.SecurityContext == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
		t.Error("the member keeps no data volume, or does not run as non-root on a read-only root")
	}
}
