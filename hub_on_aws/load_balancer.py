"""The hub's front door: a load balancer on HTTPS, with its certificate and DNS name."""

import pulumi
import pulumi_aws as aws

from hub_on_aws.network import HUB_PORT

HEALTH_PATH = "/hub/health"
# TLS 1.2 and 1.3 only.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# An idle kernel's websocket stays open this long (the load balancer's maximum is 4000 s).
IDLE_TIMEOUT_SECONDS = 3600
# A stopping hub drains for this long; nobody's request waits on it longer.
DEREGISTRATION_DELAY_SECONDS = 10


class HubLoadBalancer(pulumi.ComponentResource):
    """HTTPS to the hub's port 8000 for its name and its users' subdomains, HTTP redirected;
    with a hosted zone, their DNS records and a certificate for both."""

    def __init__(
        self,
        name: str,
        *,
        hub_domain: str,
        certificate_arn: str,
        hosted_zone_id: str,
        vpc_id: str,
        subnet_ids: list[str],
        security_group_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("serverless-hub:aws:HubLoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.load_balancer = aws.lb.LoadBalancer(
            name,
            load_balancer_type="application",
            internal=False,
            subnets=subnet_ids,
            security_groups=[security_group_id],
            idle_timeout=IDLE_TIMEOUT_SECONDS,
            drop_invalid_header_fields=True,
            opts=child,
        )
        self.target_group = aws.lb.TargetGroup(
            name,
            port=HUB_PORT,
            protocol="HTTP",
            target_type="ip",
            vpc_id=vpc_id,
            deregistration_delay=DEREGISTRATION_DELAY_SECONDS,
            health_check={
                "path": HEALTH_PATH,
                "port": "traffic-port",
                "matcher": "200",
                "interval": 15,
                "healthy_threshold": 2,
                "unhealthy_threshold": 3,
            },
            opts=child,
        )
        certificate = certificate_arn or self._certificate(name, hub_domain, hosted_zone_id, child)
        self.https = aws.lb.Listener(
            f"{name}-https",
            load_balancer_arn=self.load_balancer.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy=TLS_POLICY,
            certificate_arn=certificate,
            default_actions=[{"type": "forward", "target_group_arn": self.target_group.arn}],
            opts=child,
        )
        aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=self.load_balancer.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                {
                    "type": "redirect",
                    "redirect": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"},
                }
            ],
            opts=child,
        )
        if hosted_zone_id:
            # The hub's name, and every user's server at <user>.<hubDomain>, its own origin.
            for record_name, host in ((name, hub_domain), (f"{name}-users", f"*.{hub_domain}")):
                aws.route53.Record(
                    record_name,
                    zone_id=hosted_zone_id,
                    name=host,
                    type="A",
                    aliases=[
                        {
                            "name": self.load_balancer.dns_name,
                            "zone_id": self.load_balancer.zone_id,
                            "evaluate_target_health": True,
                        }
                    ],
                    opts=child,
                )
        self.register_outputs({"dnsName": self.load_balancer.dns_name})

    @staticmethod
    def _certificate(name, hub_domain, hosted_zone_id, child) -> pulumi.Output[str]:
        """An ACM certificate for the hub's name and its users' servers, validated through DNS."""
        certificate = aws.acm.Certificate(
            name,
            domain_name=hub_domain,
            subject_alternative_names=[f"*.{hub_domain}"],
            validation_method="DNS",
            opts=child,
        )
        # ACM asks the same record for a name and its wildcard: one record validates both.
        option = certificate.domain_validation_options[0]
        record = aws.route53.Record(
            f"{name}-certificate-validation",
            zone_id=hosted_zone_id,
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=300,
            allow_overwrite=True,
            opts=child,
        )
        validation = aws.acm.CertificateValidation(
            name,
            certificate_arn=certificate.arn,
            validation_record_fqdns=[record.fqdn],
            opts=child,
        )
        return validation.certificate_arn
