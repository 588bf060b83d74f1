"""Mailchimp Marketing API destination: ``mailchimp`` (channel ``email``).

Importing this module registers the identity profiles the connector uses
(``mailchimp.email``, ``mailchimp.subscriber_hash``, ``mailchimp.first_name``,
``mailchimp.last_name``).
"""

from dealersync import hookimpl

from dealersync_mailchimp.destination import MailchimpDestination
from dealersync_mailchimp.profiles import PROFILES

__all__ = ["PROFILES", "MailchimpDestination"]

#: The dealersync plugin API versions this plugin is written for, checked when it loads.
DEALERSYNC_API = ">=1.0,<2"


@hookimpl
def dealersync_register_destinations() -> list[type]:
    return [MailchimpDestination]
