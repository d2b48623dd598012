"""Certificate profiles of the two JPKI certificate kinds (DOMAIN.md §5), built with ``cryptography``.

Only the builders live here: what goes into a certificate, never how it is signed or stored.

A holder who moved abroad (国外転出者) has no address in Japan's records: the law has the signing
certificate carry, in place of the address, the statement that the holder is a 国外転出者 (公的個人認証法
§3-2 reading 住民基本台帳法 §17 (iii)). The overseas address stays in the registry's removed record.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from dataclasses import dataclass
from typing import Literal

from asn1crypto import core as asn1
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Kind = Literal["sign", "auth", "org"]
KINDS: tuple[Kind, ...] = ("sign", "auth", "org")

# "org" is the organisation CA openmyna operates beside the two JPKI CAs (the part LGPKI, 地方公共団体組織認証基盤,
# plays in Japan): it certifies the keys with which municipalities sign the documents they issue.
POLICY_OIDS: dict[Kind, x509.ObjectIdentifier] = {
    "sign": x509.ObjectIdentifier("1.2.392.200149.8.5.1.1"),
    "auth": x509.ObjectIdentifier("1.2.392.200149.8.5.1.3"),
    # a UUID-derived OID (ITU-T X.667, arc 2.25): openmyna's own policy, claiming nothing of a real CA's
    "org": x509.ObjectIdentifier("2.25.267148306347405424389373425137329961482"),
}
CA_UNITS: dict[Kind, str] = {
    "sign": "JPKI for digital signature",
    "auth": "JPKI for user authentication",
    "org": "openmyna organisation CA",
}
_CA_ORGANISATIONS: dict[Kind, str] = {"sign": "JPKI", "auth": "JPKI", "org": "openmyna"}
# subjectAltName otherName types of the signing certificate: the holder's four facts.
_FACT_ARC = "1.2.392.200149.8.5.5"
OID_NAME = x509.ObjectIdentifier(f"{_FACT_ARC}.1")
OID_NAME_SUBSTITUTE = x509.ObjectIdentifier(f"{_FACT_ARC}.2")
OID_SEX = x509.ObjectIdentifier(f"{_FACT_ARC}.3")
OID_BIRTH_DATE = x509.ObjectIdentifier(f"{_FACT_ARC}.4")
OID_ADDRESS = x509.ObjectIdentifier(f"{_FACT_ARC}.5")
OID_ADDRESS_SUBSTITUTE = x509.ObjectIdentifier(f"{_FACT_ARC}.6")
# The address attribute of a holder living abroad: the statement that they are a 国外転出者.
OVERSEAS_RESIDENT = "国外転出者"
# Sex as JIS X 0303 codes, the coding Japanese administrative systems use.
SEX_CODES = {"male": "1", "female": "2"}
CA_VALIDITY_YEARS = 20
RESPONDER_VALIDITY = dt.timedelta(days=400)


@dataclass(frozen=True)
class HolderFacts:
    """What the CA needs to know about the holder: the four facts and where the holder lives.

    ``address`` is the last address in Japan; from ``abroad_since`` on the holder lives abroad, and
    ``prefecture`` and ``city`` name the municipality that keeps their record.
    """

    name: str
    sex: str
    birth_date: dt.date
    address: str
    prefecture: str
    city: str
    abroad_since: dt.date | None = None

    @property
    def certified_address(self) -> str:
        """The address as the certificate (and the card's face data) carries it."""
        return OVERSEAS_RESIDENT if self.abroad_since else self.address


@dataclass(frozen=True)
class Urls:
    """The absolute URLs a certificate names for its issuer, CRL and OCSP responder."""

    base_url: str

    def _url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def ca(self, kind: Kind) -> str:
        return self._url(f"/jpki/ca/{kind}.pem")

    def crl(self, kind: Kind) -> str:
        return self._url(f"/jpki/crl/{kind}.crl")

    @property
    def ocsp(self) -> str:
        return self._url("/jpki/ocsp")


def nth_birthday_after(birth_date: dt.date, after: dt.date, n: int) -> dt.date:
    """The holder's ``n``-th birthday strictly after ``after`` (29 February counts on 1 March)."""

    def birthday(year: int) -> dt.date:
        try:
            return birth_date.replace(year=year)
        except ValueError:
            return dt.date(year, 3, 1)

    first = birthday(after.year) if birthday(after.year) > after else birthday(after.year + 1)
    return birthday(first.year + n - 1)


def random_serial() -> int:
    """A positive 127-bit serial number (RFC 5280 allows up to 20 octets; random per CA/B practice)."""
    return secrets.randbits(127) | 1 << 126


def ca_name(kind: Kind) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _CA_ORGANISATIONS[kind]),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, CA_UNITS[kind]),
        ]
    )


def end_entity_name(prefecture: str, city: str, issue_id: str) -> x509.Name:
    """``C=JP, L=<prefecture>, L=<city>, CN=<issue id>``: no personal name in the subject."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, prefecture),
            x509.NameAttribute(NameOID.LOCALITY_NAME, city),
            x509.NameAttribute(NameOID.COMMON_NAME, issue_id),
        ]
    )


def ca_builder(kind: Kind, public_key: rsa.RSAPublicKey, *, now: dt.datetime) -> x509.CertificateBuilder:
    """A self-signed root for one certificate kind: may sign certificates and CRLs only."""
    name = ca_name(kind)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(random_serial())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now.replace(year=now.year + CA_VALIDITY_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.CertificatePolicies([x509.PolicyInformation(POLICY_OIDS[kind], None)]), critical=False)
    )


def responder_builder(
    kind: Kind, ca_certificate: x509.Certificate, public_key: ec.EllipticCurvePublicKey, *, now: dt.datetime
) -> x509.CertificateBuilder:
    """A delegated OCSP responder (RFC 6960 §4.2.2.2): id-kp-OCSPSigning, with id-pkix-ocsp-nocheck."""
    return (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, _CA_ORGANISATIONS[kind]),
                    x509.NameAttribute(NameOID.COMMON_NAME, f"OCSP responder, {CA_UNITS[kind]}"),
                ]
            )
        )
        .issuer_name(ca_certificate.subject)
        .public_key(public_key)
        .serial_number(random_serial())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + RESPONDER_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        .add_extension(x509.OCSPNoCheck(), critical=False)
        .add_extension(_authority_key_id(ca_certificate), critical=False)
    )


def end_entity_builder(
    kind: Kind,
    *,
    ca_certificate: x509.Certificate,
    public_key: rsa.RSAPublicKey,
    holder: HolderFacts,
    issue_id: str,
    serial: int,
    not_before: dt.datetime,
    not_after: dt.datetime,
    urls: Urls,
) -> x509.CertificateBuilder:
    """The signing or user-authentication certificate of one card holder."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(end_entity_name(holder.prefecture, holder.city, issue_id))
        .issuer_name(ca_certificate.subject)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            _key_usage(digital_signature=True, non_repudiation=kind == "sign"),
            critical=True,
        )
        .add_extension(x509.CertificatePolicies([x509.PolicyInformation(POLICY_OIDS[kind], None)]), critical=False)
        .add_extension(_authority_key_id(ca_certificate), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    builder = _with_status_urls(builder, kind, urls)
    if kind == "sign":
        builder = builder.add_extension(x509.SubjectAlternativeName(holder_alt_names(holder)), critical=False)
    return builder


def organisation_builder(
    *,
    ca_certificate: x509.Certificate,
    public_key: rsa.RSAPublicKey,
    organisation: str,
    unit: str,
    serial: int,
    not_before: dt.datetime,
    not_after: dt.datetime,
    urls: Urls,
    time_stamping: bool = False,
) -> x509.CertificateBuilder:
    """A certificate of the organisation CA: an organisation's document-signing key (or a time-stamping unit).

    ``C=JP, O=<organisation>, OU=<unit>``; digitalSignature + nonRepudiation; CRL and OCSP named like the
    JPKI certificates, so every validator finds the status the same way.
    """
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca_certificate.subject)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, non_repudiation=not time_stamping), critical=True)
        .add_extension(x509.CertificatePolicies([x509.PolicyInformation(POLICY_OIDS["org"], None)]), critical=False)
        .add_extension(_authority_key_id(ca_certificate), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    builder = _with_status_urls(builder, "org", urls)
    if time_stamping:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    return builder


def _with_status_urls(builder: x509.CertificateBuilder, kind: Kind, urls: Urls) -> x509.CertificateBuilder:
    """Where a validator finds the status and the issuer: the CRL, the OCSP responder, the CA certificate."""
    return builder.add_extension(
        x509.CRLDistributionPoints(
            [x509.DistributionPoint([x509.UniformResourceIdentifier(urls.crl(kind))], None, None, None)]
        ),
        critical=False,
    ).add_extension(
        x509.AuthorityInformationAccess(
            [
                x509.AccessDescription(
                    x509.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(urls.ocsp)
                ),
                x509.AccessDescription(
                    x509.AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(urls.ca(kind))
                ),
            ]
        ),
        critical=False,
    )


def holder_alt_names(holder: HolderFacts) -> list[x509.GeneralName]:
    """The four facts as otherName entries (1.2.392.200149.8.5.5.*), values DER-encoded by asn1crypto."""

    def utf8(value: str) -> bytes:
        return asn1.UTF8String(value).dump()

    def printable(value: str) -> bytes:
        return asn1.PrintableString(value).dump()

    return [
        x509.OtherName(OID_NAME, utf8(holder.name)),
        x509.OtherName(OID_NAME_SUBSTITUTE, utf8("")),
        x509.OtherName(OID_SEX, printable(SEX_CODES.get(holder.sex, "0"))),
        x509.OtherName(OID_BIRTH_DATE, printable(holder.birth_date.strftime("%Y%m%d"))),
        x509.OtherName(OID_ADDRESS, utf8(holder.certified_address)),
        x509.OtherName(OID_ADDRESS_SUBSTITUTE, utf8("")),
    ]


def facts_in(certificate: x509.Certificate) -> dict[str, str]:
    """Read the holder's facts back from a signing certificate (empty for an authentication one)."""
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return {}
    labels = {OID_NAME: "name", OID_SEX: "sex", OID_BIRTH_DATE: "birth_date", OID_ADDRESS: "address"}
    facts: dict[str, str] = {}
    for other in names.get_values_for_type(x509.OtherName):
        if other.type_id in labels:
            facts[labels[other.type_id]] = str(asn1.load(other.value).native)
    return facts


@functools.lru_cache(maxsize=64)
def _authority_key_id(ca_certificate: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    ski = ca_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _key_usage(
    *, digital_signature: bool = False, non_repudiation: bool = False, cert_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=non_repudiation,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


SIGNATURE_HASH = hashes.SHA256()
